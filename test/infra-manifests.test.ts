// Docker cannot run here, so the compose file and Kubernetes manifests are checked structurally:
// every reference (volume, service, selector, port, script) must point at something that exists.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { FarmKeys } from '@farm/queue';

const root = new URL('..', import.meta.url).pathname;
type Doc = Record<string, any>;

function k8sDocs(): Doc[] {
  const dir = join(root, 'infra/k8s');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
        assert.equal(d.errors.length, 0, `${f}: ${d.errors.map((e) => e.message).join('; ')}`);
        return d.toJS() as Doc;
      }),
    );
}

const labelsMatch = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** A Dockerfile's last stage runs an existing entry point with tsx as an unprivileged user; every install goes
 *  through scripts/prod-install.mjs (what test/prod-install.test.ts runs), never `npm ci` under NODE_ENV=production
 *  (which drops the dev dependencies a build needs, and silently so). */
function checkDockerfile(name: string, text: string): void {
  const stages = text.split(/^FROM /m).slice(1);
  const last = stages[stages.length - 1];
  const cmd = /^CMD \["node", "--import", "tsx", "([^"]+)"\]/m.exec(last);
  assert.ok(cmd, `${name}: the last stage has no node --import tsx CMD`);
  assert.ok(existsSync(join(root, cmd[1])), `${name} runs missing ${cmd[1]}`);
  const user = [...last.matchAll(/^USER (\S+)/gm)].pop();
  assert.ok(user && user[1] !== 'root' && user[1] !== '0', `${name}: the running stage must set a non-root USER`);
  assert.match(text, /RUN node scripts\/prod-install\.mjs (gateway|worker) \/app/, `${name}: install through prod-install.mjs`);
  for (const stage of stages) {
    const envProd = stage.search(/^ENV .*NODE_ENV=production/m);
    const install = stage.search(/^RUN .*npm (ci|install)/m);
    assert.ok(envProd < 0 || install < 0 || envProd > install, `${name}: NODE_ENV=production before an npm install`);
  }
}

test('compose: services, volumes and dependencies are consistent', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as Doc;
  const services = compose.services as Record<string, Doc>;
  for (const name of ['redis', 'minio', 'gateway', 'worker']) assert.ok(services[name], `service ${name} missing`);
  for (const [name, svc] of Object.entries(services)) {
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(services[dep], `${name} depends on unknown ${dep}`);
    for (const v of svc.volumes ?? []) {
      const source = String(v).split(':')[0];
      if (!source.startsWith('.') && !source.startsWith('/')) assert.ok(compose.volumes?.[source] !== undefined, `${name} uses undeclared volume ${source}`);
    }
    if (svc.build) {
      const dockerfile = readFileSync(join(root, svc.build.context, svc.build.dockerfile), 'utf8');
      checkDockerfile(svc.build.dockerfile, dockerfile);
    }
  }
  assert.ok(services.redis.command.includes('--appendonly'), 'redis must persist with AOF');
  const gpu = services.worker.deploy.resources.reservations.devices[0];
  assert.equal(gpu.driver, 'nvidia');
  assert.deepEqual(gpu.capabilities, ['gpu']);
  assert.equal(services.gateway.environment.STORAGE, 's3');
});

test('k8s: every object is well-formed and every reference resolves', () => {
  const docs = k8sDocs();
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  for (const d of docs) {
    assert.ok(d.apiVersion && d.kind && d.metadata?.name, `incomplete object ${JSON.stringify(d).slice(0, 80)}`);
    if (d.kind !== 'Namespace') assert.equal(d.metadata.namespace, 'sd-farm', `${d.kind}/${d.metadata.name} namespace`);
  }
  const names = (kind: string) => new Set(byKind(kind).map((d) => d.metadata.name));
  const workloads = [...byKind('Deployment'), ...byKind('StatefulSet')];
  for (const w of workloads) {
    const labels = w.spec.template.metadata.labels;
    assert.ok(labelsMatch(w.spec.selector.matchLabels, labels), `${w.metadata.name} selector does not match its pods`);
    for (const c of w.spec.template.spec.containers) {
      assert.ok(c.image, `${w.metadata.name}/${c.name} has no image`);
      const ports = new Set((c.ports ?? []).map((p: Doc) => p.name));
      for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) {
        if (probe.httpGet) assert.ok(ports.has(probe.httpGet.port), `${w.metadata.name} probe port ${probe.httpGet.port}`);
      }
      for (const src of c.envFrom ?? []) {
        if (src.configMapRef) assert.ok(names('ConfigMap').has(src.configMapRef.name), `missing ConfigMap ${src.configMapRef.name}`);
        if (src.secretRef) assert.ok(names('Secret').has(src.secretRef.name), `missing Secret ${src.secretRef.name}`);
      }
    }
    for (const v of w.spec.template.spec.volumes ?? []) {
      if (v.persistentVolumeClaim)
        assert.ok(names('PersistentVolumeClaim').has(v.persistentVolumeClaim.claimName), `missing PVC ${v.persistentVolumeClaim.claimName}`);
    }
  }
  for (const s of byKind('Service')) {
    assert.ok(
      workloads.some((w) => labelsMatch(s.spec.selector, w.spec.template.metadata.labels)),
      `Service ${s.metadata.name} selects nothing`,
    );
  }
  // Prometheus Operator monitors: what the KEDA prometheus trigger and the dashboards read
  for (const sm of byKind('ServiceMonitor')) {
    const services = byKind('Service').filter((svc) => labelsMatch(sm.spec.selector.matchLabels, svc.metadata.labels ?? {}));
    assert.ok(services.length > 0, `ServiceMonitor ${sm.metadata.name} selects no Service`);
    for (const ep of sm.spec.endpoints) {
      assert.ok(
        services.some((svc) => svc.spec.ports.some((port: Doc) => port.name === ep.port)),
        `ServiceMonitor ${sm.metadata.name} port ${ep.port}`,
      );
      const cred = ep.authorization?.credentials;
      if (cred)
        assert.ok(
          byKind('Secret').some((sec) => sec.metadata.name === cred.name && cred.key in (sec.stringData ?? sec.data ?? {})),
          `missing secret key ${cred.name}/${cred.key}`,
        );
    }
  }
  for (const pm of byKind('PodMonitor')) {
    const pods = workloads.filter((w) => labelsMatch(pm.spec.selector.matchLabels, w.spec.template.metadata.labels));
    assert.ok(pods.length > 0, `PodMonitor ${pm.metadata.name} selects no pods`);
    for (const ep of pm.spec.podMetricsEndpoints) {
      assert.ok(
        pods.some((w) => w.spec.template.spec.containers.some((c: Doc) => (c.ports ?? []).some((port: Doc) => port.name === ep.port))),
        `PodMonitor ${pm.metadata.name} port ${ep.port}`,
      );
    }
  }
  assert.ok(byKind('ServiceMonitor').length > 0 && byKind('PodMonitor').length > 0, 'gateways and workers are scraped');
  // a liveness probe that can fail: not an exec that always exits 0
  for (const w of workloads) {
    for (const c of w.spec.template.spec.containers) {
      const exec = c.livenessProbe?.exec?.command?.join(' ') ?? '';
      assert.ok(!/process\.exit\(0\)|^true$/.test(exec), `${w.metadata.name}: liveness probe always passes`);
    }
  }
  for (const p of byKind('PodDisruptionBudget')) {
    assert.ok(
      workloads.some((w) => labelsMatch(p.spec.selector.matchLabels, w.spec.template.metadata.labels)),
      `PDB ${p.metadata.name} selects nothing`,
    );
  }
  for (const ing of byKind('Ingress')) {
    assert.ok(ing.spec.tls?.length > 0, 'Ingress must terminate TLS');
    for (const rule of ing.spec.rules)
      for (const path of rule.http.paths) {
        assert.ok(names('Service').has(path.backend.service.name), `Ingress backend ${path.backend.service.name}`);
      }
  }
  // GPU workers: one deployment per model (WORKER_MODELS), each scaled by its own ScaledObject on that model's queue
  const workers = byKind('Deployment').filter((d) => d.spec.template.metadata.labels.app === 'worker');
  const scaled = byKind('ScaledObject');
  assert.ok(workers.length >= 2 && scaled.length === workers.length, 'one ScaledObject per model deployment');
  const keys = new FarmKeys('farm');
  const models = new Set<string>();
  for (const worker of workers) {
    const container = worker.spec.template.spec.containers[0];
    assert.equal(container.resources.limits['nvidia.com/gpu'], 1);
    const model = container.env.find((e: Doc) => e.name === 'WORKER_MODELS')?.value as string;
    assert.ok(model && !model.includes(','), `${worker.metadata.name}: one model in WORKER_MODELS`);
    models.add(model);
    const so = scaled.filter((s) => s.spec.scaleTargetRef.name === worker.metadata.name);
    assert.equal(so.length, 1, `${worker.metadata.name}: one ScaledObject`);
    const redis = so[0].spec.triggers.find((t: any) => t.type === 'redis');
    assert.equal(redis?.metadata.listName, `${keys.prefix}:${keys.renderQueue(model)}:wait`, `${model}: scaled on its own BullMQ wait list`);
    const prometheus = so[0].spec.triggers.find((t: any) => t.type === 'prometheus');
    assert.equal(
      prometheus?.metadata.query,
      `max(farm_queue_jobs_by_model{model="${model}",state="waiting"})`,
      "prioritized jobs count too, through the gateways' per-model waiting gauge",
    );
  }
  assert.equal(models.size, workers.length, 'each model has its own deployment');
});
