// Preload (node --import) that prints `MODULE-LOADED <url>` for every module the process loads of
// what most runs never use — the OpenTelemetry SDK and exporters, the archive's database drivers, the
// A2A SDK — so that a test can show they are loaded only when asked for (tracing on, an archive, an
// A2A Agent).
import { register } from 'node:module';

const hooks = `
export async function load(url, context, next) {
  if (/@opentelemetry\\/(sdk-trace|exporter-|otlp-)|node_modules\\/(pg|@electric-sql\\/pglite|@a2a-js\\/sdk)\\//.test(url)) process.stdout.write('MODULE-LOADED ' + url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
