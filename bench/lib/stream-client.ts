// A farm client in a process of its own: submits jobs one after another with POST /v1/jobs/stream over a keep-alive
// node:http connection and prints one JSON line per job: when it posted, when the first SSE event arrived, when the
// stream ended, in ms of the system's monotonic clock (process.hrtime), which every process on the machine shares.
// (Not performance.timeOrigin + now(): each process fixes its origin from the wall clock as it starts, and two
// processes' origins were up to 3.7 ms apart, measured, which made the parts between processes meaningless.) Its own
// process, as a farm's callers are: in the benchmark's process its callbacks would wait behind the in-process worker's.
// argv: gateway URL, Authorization header; stdin: a JSON array of request bodies.
import http from 'node:http';
import { monotonicMs as clock } from './monotonic';

export interface StreamedJob {
  id: string;
  posted: number;
  firstEvent: number;
  done: number;
}

// fetch (undici) costs ~4 ms of CPU per call on a 2-core machine, which would count as overhead
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function streamJob(url: string, auth: string, body: unknown): Promise<StreamedJob> {
  const payload = JSON.stringify(body);
  const posted = clock();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/jobs/stream`,
      { method: 'POST', agent, headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        let firstEvent = 0;
        let id = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (!firstEvent && text.includes('\n\n')) {
            firstEvent = clock();
            const data = text.split('\n').find((l) => l.startsWith('data: '));
            if (data) id = (JSON.parse(data.slice(6)) as { id: string }).id;
          }
        });
        res.on('end', () => (res.statusCode === 200 ? resolve({ id, posted, firstEvent, done: clock() }) : reject(new Error(`${res.statusCode}: ${text}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const [url, auth] = process.argv.slice(2);
let bodies = '';
for await (const chunk of process.stdin) bodies += String(chunk);
// printed once all jobs are done: a line per job as it ended would wake the benchmark's process (the worker's) on
// every job, in the middle of the next one
const jobs: StreamedJob[] = [];
for (const body of JSON.parse(bodies) as unknown[]) jobs.push(await streamJob(url, auth, body));
console.log(jobs.map((j) => JSON.stringify(j)).join('\n'));
agent.destroy();
