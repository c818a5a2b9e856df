// Instant agents for the benchmark: one process serving `--count` ParallaxAgents (SDK), each on its
// own loopback port, each answering Analyze at once with a fixed value — or, with `--delay-ms`,
// after that long, as an LLM agent would (the slow-agent workload), and with `--reply-bytes` with a
// value padded to about that size (a long answer). Prints
// `READY <port>,<port>,...` once all listen; SIGTERM stops them.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ParallaxAgent, type AgentReply } from '../src/sdk/index.js';

class InstantAgent extends ParallaxAgent {
  constructor(
    name: string,
    private readonly confidence: number,
    private readonly delayMs: number,
    private readonly padding: string,
  ) {
    super({ id: name, name, capabilities: ['bench'], expertise: 0.8 });
  }

  async analyze(): Promise<AgentReply> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    return { value: { recommendation: 'approve', risk: 'low', ...(this.padding ? { text: this.padding } : {}) }, confidence: this.confidence };
  }
}

const { values } = parseArgs({ options: { count: { type: 'string', default: '50' }, 'delay-ms': { type: 'string', default: '0' }, 'reply-bytes': { type: 'string', default: '0' } } });
const count = Number(values.count);
const padding = 'x'.repeat(Number(values['reply-bytes']));
const agents: InstantAgent[] = [];
const ports: number[] = [];
for (let i = 0; i < count; i++) {
  const a = new InstantAgent(`bench-${i}`, 0.6 + (i % 4) * 0.1, Number(values['delay-ms']), padding);
  const { port } = await a.serve({ host: '127.0.0.1', port: 0 });
  agents.push(a);
  ports.push(port);
}
process.stdout.write(`READY ${ports.join(',')}\n`);
const stop = () => void Promise.all(agents.map((a) => a.shutdown(1000))).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
