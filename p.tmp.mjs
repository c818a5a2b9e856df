import { loadProtocol } from './src/sdk/protocol.ts';
