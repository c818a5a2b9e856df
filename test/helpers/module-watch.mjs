// Preload (node --import) that prints `MODULE-LOADED <url>` for every OpenTelemetry SDK or exporter
// module the process loads: the test that tracing costs nothing when off reads the output.
import { register } from 'node:module';

const hooks = `
export async function load(url, context, next) {
  if (/@opentelemetry\\/(sdk-trace|exporter-|otlp-)/.test(url)) process.stdout.write('MODULE-LOADED ' + url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
