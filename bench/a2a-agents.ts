// A2A agents for the benchmark: one process serving `--count` agents of the official A2A SDK
// (test/fixtures/a2a-agent.ts), each on its own loopback port, each answering a message at once with
// a completed task carrying the same value as the gRPC instant agents and metadata.confidence.
// Prints `READY <port>,<port>,...` once all listen; SIGTERM stops them.
import { parseArgs } from 'node:util';
import { startA2AAgent } from '../test/fixtures/a2a-agent.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '3' } } });
const agents = await Promise.all(
  Array.from({ length: Number(values.count) }, (_, i) =>
    startA2AAgent({ name: `bench-a2a-${i}`, skills: ['bench-a2a'], data: { recommendation: 'approve', risk: 'low' }, confidence: 0.6 + (i % 4) * 0.1 }),
  ),
);
process.stdout.write(`READY ${agents.map((a) => a.port).join(',')}\n`);
const stop = () => void Promise.all(agents.map((a) => a.close())).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
