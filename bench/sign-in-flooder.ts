/**
 * The attacker of the sign-in-flood benchmark, in its own process (as an attacker's client would
 * be): InitiateAuth with made-up usernames, unsigned as the SDK sends it, arriving at `rate` per
 * second with at most `inFlight` at once, until told to stop. Reports what the pool answered.
 *
 * argv: <edgeUrl> <clientId> <rate> <inFlight>; IPC: receives 'stop', sends { answers, seconds }.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const [edgeUrl, clientId, rateArg, inFlightArg] = process.argv.slice(2);
const rate = Number(rateArg);
const maxInFlight = Number(inFlightArg);
const url = new URL(edgeUrl!);
const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
const answers: Record<string, number> = {};
let inFlight = 0;
let stopped = false;

function signIn(): void {
  inFlight++;
  const body = JSON.stringify({
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: clientId,
    AuthParameters: { USERNAME: `made-up-${randomUUID()}`, PASSWORD: 'Guessed-Password-1!' },
  });
  const req = http.request(
    {
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/',
      agent,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth',
        'content-length': Buffer.byteLength(body),
      },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const type = res.statusCode === 200 ? 'signed in' : String((JSON.parse(Buffer.concat(chunks).toString()) as { __type?: string }).__type ?? res.statusCode);
        answers[type] = (answers[type] ?? 0) + 1;
        inFlight--;
      });
    },
  );
  req.on('error', (err) => {
    answers[`error ${err.message}`] = (answers[`error ${err.message}`] ?? 0) + 1;
    inFlight--;
  });
  req.end(body);
}

const started = performance.now();
let due = started;
function tick(): void {
  if (stopped) return;
  const now = performance.now();
  while (due <= now) {
    if (inFlight < maxInFlight) signIn();
    due += 1000 / rate;
  }
  setTimeout(tick, Math.max(1, due - performance.now()));
}
tick();

process.on('message', (msg) => {
  if (msg !== 'stop') return;
  stopped = true;
  const finish = () => {
    if (inFlight > 0) return void setTimeout(finish, 10);
    process.send!({ answers, seconds: (performance.now() - started) / 1000 }, () => process.exit(0));
  };
  finish();
});
// The benchmark ended (or failed) without a 'stop': nothing to report to.
process.on('disconnect', () => process.exit(0));
process.send!('started');
