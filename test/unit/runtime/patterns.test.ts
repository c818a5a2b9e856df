// Each of the 11 sample Patterns, fed canned replies, gives the value and confidence of its
// documented formula. Every expected number is worked out by hand here, not copied from output.
import { loadFixture, runSample, withReplies, type V } from './helpers.js';

const called = (c: { requests: { agent: { name: string } }[] }) => c.requests.map((r) => r.agent.name);

describe('sample patterns', () => {
  test('simple-consensus: avg of confidences, status by avg > 0.7', async () => {
    const { result } = await runSample('simple-consensus');
    const v = result.value as V;
    const avg = (0.9 + 0.8 + 0.7 + 0.6) / 4; // 0.75
    expect(result.confidence).toBeCloseTo(avg, 12);
    expect(v.status).toBe('consensus_reached');
    expect(v.agentCount).toBe(4);
    expect(v.agent1).toEqual({ name: 'architect', confidence: 0.9, result: { recommendation: 'approve' } });
    expect(v.agent2.name).toBe('complexity');

    const low = withReplies(loadFixture('simple-consensus'), { architect: [0.5, 'x'], complexity: [0.6, 'y'] });
    const r2 = await runSample('simple-consensus', low);
    expect(r2.result.confidence).toBeCloseTo((0.5 + 0.6 + 0.7 + 0.6) / 4, 12); // 0.6
    expect((r2.result.value as V).status).toBe('low_consensus');
  });

  test('consensus-builder: expertise-weighted mean, strong consensus', async () => {
    const { result } = await runSample('consensus-builder');
    const v = result.value as V;
    // expertise: architect .85, complexity .75, performance .8, security .9
    const consensus = (0.9 * 0.85 + 0.85 * 0.75 + 0.7 * 0.8 + 0.95 * 0.9) / (0.85 + 0.75 + 0.8 + 0.9);
    expect(result.confidence).toBeCloseTo(consensus, 12);
    expect(v.type).toBe('strong_consensus'); // 3 answers > 0.8 and consensus 0.8538 > 0.8
    expect(v.highConfidenceAgents).toBe(3);
    expect(v.recommendation).toBe('block'); // security, 0.95, the most confident
    expect(v.successfulAgents).toBe(4);
    expect(v.results).toHaveLength(4);
  });

  test('consensus-builder: a failed agent counts with confidence 0; moderate/weak levels', async () => {
    const f = withReplies(loadFixture('consensus-builder'), { security: { error: 'timeout' }, performance: [0.85, 'x'] });
    const { result } = await runSample('consensus-builder', f);
    const consensus = (0.9 * 0.85 + 0.85 * 0.75 + 0.85 * 0.8 + 0 * 0.9) / (0.85 + 0.75 + 0.8 + 0.9); // 0.6288
    expect(result.confidence).toBeCloseTo(consensus, 12);
    expect((result.value as V).type).toBe('moderate_consensus'); // high = 3 but consensus < 0.8; > 0.6
    expect((result.value as V).successfulAgents).toBe(3);
  });

  test('epistemic-orchestrator: disagreement discounts the average of all answers', async () => {
    const { result } = await runSample('epistemic-orchestrator');
    const v = result.value as V;
    const avg = (0.9 + 0.85 + 0.7 + 0.6) / 4; // 0.7625, over all four (not the first-4/n bug)
    expect(v.averageConfidence).toBeCloseTo(avg, 12);
    expect(v.hasDisagreement).toBe(true);
    expect(v.consensusLevel).toBe('valuable_disagreement');
    expect(result.confidence).toBeCloseTo(avg * 0.8, 12); // 0.61
    expect(v.recommendation).toMatch(/Multiple valid perspectives/);

    const agree = withReplies(loadFixture('epistemic-orchestrator'), { complexity: [0.85, 'refactor'], performance: [0.9, 'refactor'], security: [0.75, 'x'] });
    const r2 = await runSample('epistemic-orchestrator', agree);
    const avg2 = (0.9 + 0.85 + 0.9 + 0.75) / 4; // 0.85
    expect(r2.result.confidence).toBeCloseTo(avg2, 12);
    expect((r2.result.value as V).consensusLevel).toBe('strong_consensus');
    expect((r2.result.value as V).recommendation).toBe('refactor');
  });

  test('uncertainty-router: probes, then really calls the routed agent', async () => {
    const { result, caller } = await runSample('uncertainty-router');
    const v = result.value as V;
    // probe: architect 0.6 → 0.5 <= a < 0.8 → balanced_approach → agents[1] = complexity (0.85)
    expect(called(caller)).toEqual(['architect', 'complexity']);
    expect(caller.requests.map((r) => r.taskId)).toEqual(['ns/exec-1/probe/architect', 'ns/exec-1/answer/complexity']);
    expect(v.strategy).toBe('balanced_approach');
    expect(v.agentName).toBe('complexity');
    expect(v.probeConfidence).toBe(0.6);
    expect(result.confidence).toBe(0.85);

    const high = withReplies(loadFixture('uncertainty-router'), { architect: [0.9, 'easy'] });
    const r2 = await runSample('uncertainty-router', high);
    expect(called(r2.caller)).toEqual(['architect', 'performance']); // a = 0.9 → agents[2]
    expect((r2.result.value as V).strategy).toBe('generalist_sufficient');
    expect(r2.result.confidence).toBe(0.7);

    const low = withReplies(loadFixture('uncertainty-router'), { architect: [0.3, 'hard'] });
    const r3 = await runSample('uncertainty-router', low);
    expect(called(r3.caller)).toEqual(['architect', 'architect']); // specialist = agents[0]
    expect((r3.result.value as V).strategy).toBe('specialist_required');
    expect(r3.result.confidence).toBe(0.3);
  });

  test('confidence-cascade: stops at the first answer reaching the target', async () => {
    const { result, caller } = await runSample('confidence-cascade');
    expect(called(caller)).toEqual(['architect', 'complexity']); // 0.6 < 0.8, then 0.85 >= 0.8: stop
    const v = result.value as V;
    expect(v.status).toBe('target_achieved');
    expect(v.attempts).toBe(2);
    expect(v.metadata.confidenceProgression).toEqual([0.6, 0.85]);
    expect(result.confidence).toBe(0.85);
    expect(caller.requests[0]!.task).toBe('What does this regex match?'); // task from input.query

    const r2 = await runSample('confidence-cascade', loadFixture('confidence-cascade'), { query: 'q', minConfidence: 0.99 });
    expect(called(r2.caller)).toEqual(['architect', 'complexity', 'performance']); // max 3 agents
    expect((r2.result.value as V).status).toBe('best_effort'); // best 0.95 > 0.6
    expect(r2.result.confidence).toBe(0.95);
  });

  test('load-balancer: real scores per strategy', async () => {
    const { result } = await runSample('load-balancer');
    // weighted: .9*.85=.765, .8*.75=.6, .85*.8=.68, .88*.9=.792 → security
    expect((result.value as V).routing.selectedAgent).toBe('security');
    expect(result.confidence).toBeCloseTo(0.88 * 0.9, 12);

    const f = loadFixture('load-balancer');
    const byConf = await runSample('load-balancer', f, { task: 't', strategy: 'confidence' });
    expect((byConf.result.value as V).routing.selectedAgent).toBe('architect'); // 0.9 is highest
    expect(byConf.result.confidence).toBe(0.9);

    // latencies: complexity reports 5 ms, the others 0 → the first with the lowest latency wins
    const byLatency = await runSample('load-balancer', f, { task: 't', strategy: 'latency' });
    expect((byLatency.result.value as V).routing.selectedAgent).toBe('architect');

    const down = withReplies(f, { architect: { error: 'down' } });
    const avail = await runSample('load-balancer', down, { task: 't', strategy: 'availability' });
    expect((avail.result.value as V).routing.selectedAgent).toBe('complexity'); // first successful
    expect(avail.result.confidence).toBe(0.8);

    const allDown = withReplies(f, { architect: { error: 'x' }, complexity: { error: 'x' }, performance: { error: 'x' }, security: { error: 'x' } });
    // Every agent down: the step fails (minSuccess 1), naming each agent's error.
    await expect(runSample('load-balancer', allDown)).rejects.toThrow(/^steps\[0\]\.call: 0 of 4 calls succeeded, the step needs 1 \(minSuccess\): architect: x; complexity: x; performance: x; security: x$/);
  });

  test('cascading-refinement: tiers one at a time, best answer kept', async () => {
    const { result, caller } = await runSample('cascading-refinement');
    // target 0.9: 0.7, 0.85, 0.8 all below → 3 tiers; best = complexity 0.85
    expect(called(caller)).toEqual(['architect', 'complexity', 'performance']);
    const v = result.value as V;
    expect(v.agent).toBe('complexity');
    expect(result.confidence).toBe(0.85);
    expect(v.targetAchieved).toBe(false);
    expect(v.refinementPath).toEqual([
      { tier: 1, agentName: 'architect', confidence: 0.7, duration: 'fast' },
      { tier: 2, agentName: 'complexity', confidence: 0.85, duration: 'medium' },
      { tier: 3, agentName: 'performance', confidence: 0.8, duration: 'thorough' },
    ]);

    const r2 = await runSample('cascading-refinement', loadFixture('cascading-refinement'), { task: 't', minConfidence: 0.8 });
    expect(called(r2.caller)).toEqual(['architect', 'complexity']); // 0.85 >= 0.8 stops
    const r3 = await runSample('cascading-refinement', loadFixture('cascading-refinement'), { task: 't', minConfidence: 0.99, maxTier: 1 });
    expect(called(r3.caller)).toEqual(['architect']);
    expect(r3.result.confidence).toBe(0.7);
  });

  test('parallel-exploration: divergence boosts by 1.1, clamped to 1', async () => {
    const { result } = await runSample('parallel-exploration');
    const avg = (0.9 + 0.85 + 0.7) / 3;
    expect((result.value as V).strategy).toBe('divergent_exploration'); // high = 2, all recs differ
    expect(result.confidence).toBeCloseTo(avg * 1.1, 12); // 0.8983

    const hot = withReplies(loadFixture('parallel-exploration'), { architect: [0.95, 'a'], complexity: [0.92, 'b'], performance: [0.9, 'c'] });
    const r2 = await runSample('parallel-exploration', hot);
    // (0.95 + 0.92 + 0.9)/3 * 1.1 = 1.0157 → clamped
    expect(r2.result.confidence).toBe(1);

    const agree = withReplies(loadFixture('parallel-exploration'), { performance: [0.7, 'redis'] });
    const r3 = await runSample('parallel-exploration', agree);
    expect((r3.result.value as V).strategy).toBe('consensus_reached'); // rec3 == rec1, avg 0.8167 > 0.6
    expect(r3.result.confidence).toBeCloseTo((0.9 + 0.85 + 0.7) / 3, 12);
  });

  test('multi-validator: votes, and a fast path that saves calls', async () => {
    const { result, caller } = await runSample('multi-validator');
    const v = result.value as V;
    expect(called(caller)).toEqual(['architect', 'complexity', 'performance', 'security']);
    expect(result.confidence).toBeCloseTo((0.8 + 0.5 + 0.7 + 0.65) / 4, 12); // 0.6625
    expect(v.valid).toBe(true); // 3 valid (> 0.6) vs 1
    expect(v.validVotes).toBe(3);
    expect(v.strength).toBeCloseTo((3 - 1) / 4, 12);

    const fast = withReplies(loadFixture('multi-validator'), { architect: [0.95, 'valid'] });
    const r2 = await runSample('multi-validator', fast);
    expect(called(r2.caller)).toEqual(['architect']);
    expect(r2.result.value).toEqual({ valid: true, mode: 'fast_path', validatedBy: 'architect', confidence: 0.95 });
    expect(r2.result.confidence).toBe(0.95);
    expect(r2.result.steps.find((s) => s.name === 'others')!.phase).toBe('Skipped');
  });

  test('uncertainty-mapreduce: reduceConf × (0.7 + 0.3 × avgMapConf)', async () => {
    const { result } = await runSample('uncertainty-mapreduce');
    const avgMap = (0.8 + 0.6 + 0.75 + 0.5) / 4; // 0.6625
    expect((result.value as V).mapQuality).toBe('good'); // 2 maps >= 0.7
    expect(result.confidence).toBeCloseTo(0.9 * (0.7 + 0.3 * avgMap), 12); // 0.808875

    const poor = withReplies(loadFixture('uncertainty-mapreduce'), { architect: [0.6, 'x'], performance: [0.4, 'y'] });
    const r2 = await runSample('uncertainty-mapreduce', poor);
    expect((r2.result.value as V).mapQuality).toBe('poor');
    expect(r2.result.confidence).toBeCloseTo(0.3 * (0.7 + 0.3 * ((0.6 + 0.6 + 0.4 + 0.5) / 4)), 12);
  });

  test('robust-analysis: consensus_based boosts by 1.1 (clamped)', async () => {
    const { result } = await runSample('robust-analysis');
    const v = result.value as V;
    const avg = (0.9 + 0.85 + 0.95 + 0.7) / 4; // 0.85
    expect(v.robustness).toBe('highly_robust');
    expect(v.strategy).toBe('consensus_based');
    expect(v.selectedAgent).toBe('performance');
    expect(result.confidence).toBeCloseTo(Math.min(avg * 1.1, 1), 12); // 0.935

    const shaky = withReplies(loadFixture('robust-analysis'), { architect: [0.4, 'x'], complexity: [0.3, 'y'] });
    const r2 = await runSample('robust-analysis', shaky);
    expect((r2.result.value as V).strategy).toBe('uncertainty_aware'); // low = 2
    expect(r2.result.confidence).toBeCloseTo((0.4 + 0.3 + 0.95 + 0.7) / 4, 12);
  });
});
