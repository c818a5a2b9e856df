// Small SVG drawings, no chart library: the reliability diagram (claimed confidence against observed
// accuracy in ten bins, beside the diagonal of perfect calibration), confidence over time, and a
// Pattern's steps in order. Each is an image with a text alternative that says what it shows.

export interface Bin {
  lower: number;
  upper: number;
  weight: number;
  confidence?: number;
  accuracy?: number;
}

const SIZE = 220;
const PAD = 28;
const scale = (v: number) => PAD + v * (SIZE - 2 * PAD);
const flip = (v: number) => SIZE - scale(v);

export function ReliabilityDiagram({ bins }: { bins: Bin[] }) {
  const filled = bins.filter((b) => b.weight > 0);
  const label = `Reliability diagram: ${filled.map((b) => `claims ${b.lower.toFixed(1)}–${b.upper.toFixed(1)} right ${((b.accuracy ?? 0) * 100).toFixed(0)}%`).join('; ') || 'no outcomes yet'}`;
  return (
    <svg class="chart" id="reliability" role="img" aria-label={label} width={SIZE} height={SIZE} viewBox={`0 0 ${SIZE} ${SIZE}`}>
      <rect x={PAD} y={PAD} width={SIZE - 2 * PAD} height={SIZE - 2 * PAD} fill="#fff" stroke="#c5cad3" />
      {filled.map((b) => (
        <rect class="bin" x={scale(b.lower) + 1} y={flip(b.accuracy ?? 0)} width={scale(b.upper) - scale(b.lower) - 2} height={scale(b.accuracy ?? 0) - PAD} fill="#84adff" opacity={Math.min(1, 0.35 + b.weight / 20)} />
      ))}
      <line x1={scale(0)} y1={flip(0)} x2={scale(1)} y2={flip(1)} stroke="#667085" stroke-dasharray="4 3" />
      {filled.map((b) => (
        <circle cx={scale(b.confidence ?? (b.lower + b.upper) / 2)} cy={flip(b.accuracy ?? 0)} r={3} fill="#1d2330" />
      ))}
      <text x={SIZE / 2} y={SIZE - 6} text-anchor="middle" font-size="11">claimed confidence</text>
      <text x={10} y={SIZE / 2} text-anchor="middle" font-size="11" transform={`rotate(-90 10 ${SIZE / 2})`}>right</text>
    </svg>
  );
}

export function ConfidenceOverTime({ points }: { points: { time: number; confidence: number }[] }) {
  const width = 520;
  const sorted = [...points].sort((a, b) => a.time - b.time);
  const t0 = sorted[0]?.time ?? 0;
  const span = Math.max(1, (sorted[sorted.length - 1]?.time ?? 0) - t0);
  const x = (t: number) => PAD + ((t - t0) / span) * (width - 2 * PAD);
  const label = sorted.length ? `Confidence of ${sorted.length} finished runs over time, from ${sorted[0].confidence.toFixed(2)} to ${sorted[sorted.length - 1].confidence.toFixed(2)}` : 'No finished runs yet';
  return (
    <svg class="chart" id="confidence-over-time" role="img" aria-label={label} width={width} height={SIZE / 1.5} viewBox={`0 0 ${width} ${SIZE}`} preserveAspectRatio="none">
      <rect x={PAD} y={PAD} width={width - 2 * PAD} height={SIZE - 2 * PAD} fill="#fff" stroke="#c5cad3" />
      <polyline fill="none" stroke="#175cd3" points={sorted.map((p) => `${x(p.time)},${flip(p.confidence)}`).join(' ')} />
      {sorted.map((p) => (
        <circle cx={x(p.time)} cy={flip(p.confidence)} r={2.5} fill="#175cd3" />
      ))}
    </svg>
  );
}

export function StepsDrawing({ steps }: { steps: { name: string; kind: string }[] }) {
  const box = 120;
  const gap = 30;
  const width = steps.length * (box + gap);
  return (
    <svg class="chart" id="steps" role="img" aria-label={`Steps in order: ${steps.map((s) => `${s.name} (${s.kind})`).join(', then ')}`} width={width} height={60} viewBox={`0 0 ${width} 60`}>
      {steps.map((s, i) => {
        const x = i * (box + gap);
        return (
          <g class="step" data-step={s.name}>
            <rect x={x} y={8} width={box} height={44} rx={6} fill="#eef4ff" stroke="#84adff" />
            <text x={x + box / 2} y={27} text-anchor="middle" font-size="12" font-weight="600">{s.name}</text>
            <text x={x + box / 2} y={43} text-anchor="middle" font-size="11">{s.kind}</text>
            {i < steps.length - 1 && <path d={`M${x + box} 30 h${gap - 4} l-5 -4 m5 4 l-5 4`} stroke="#667085" fill="none" />}
          </g>
        );
      })}
    </svg>
  );
}
