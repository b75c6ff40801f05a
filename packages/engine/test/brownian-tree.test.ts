// A1111's Brownian noise for the SDE samplers: numpy's SeedSequence and torchsde's BrownianTree, against values
// printed by numpy 2.4 and by torchsde (google-research/torchsde eb3a00e) under torch 1.13 on the CPU.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { SeedSequence, BrownianTree, brownianNoise } from '../src/schedulers';
import { TorchCpuGenerator } from '../src/rng';

test('SeedSequence.generate_state matches numpy', () => {
  // np.random.SeedSequence(entropy, spawn_key=..., pool_size=...).generate_state(n).tolist()
  assert.deepEqual(new SeedSequence(0, [], 24).generateState(3), [4025752534, 2687548107, 2326983537]);
  assert.deepEqual(new SeedSequence(1234, [], 24).generateState(3), [4280268349, 3829106894, 2675148735]);
  assert.deepEqual(new SeedSequence(4294967295, [5, 3], 24).generateState(4), [648340268, 1452704993, 4287593032, 3590813513]);
  assert.deepEqual(new SeedSequence(2n ** 40n + 7n, [123456, 17], 24).generateState(4), [1651718344, 2863569004, 3985070257, 3427223922]);
  assert.deepEqual(new SeedSequence(42).generateState(8), [3444837047, 2669555309, 2046530742, 3581440988, 1691623607, 2099784219, 1184028159, 862288241]);
});

const cpuRandn = (seed: number, n: number) => new TorchCpuGenerator(seed).randn(n);

test("BrownianTree increments equal torchsde's BrownianTree(entropy=7, tol=1e-6, pool_size=24) with torch's CPU generator", () => {
  // BrownianTree(0.029167, torch.zeros(6), 14.614641, entropy=7, tol=1e-6, pool_size=24)(a, b).tolist()
  const want: [number, number, number[]][] = [
    [0.5, 1.5, [-0.23547983169555664, 1.2866365909576416, 0.010746141895651817, 1.7208319902420044, -0.9645646810531616, 0.8608461022377014]],
    [0.029167, 14.614641, [-7.7218403816223145, 9.414663314819336, -0.20070880651474, 11.655160903930664, 0.872331976890564, -2.146949052810669]],
    [3.1, 7.25, [-2.4926254749298096, 0.7136358618736267, 0.27662765979766846, 5.784797668457031, 0.43335431814193726, -3.0670299530029297]],
  ];
  const tree = new BrownianTree(0.029167, 14.614641, 7, 6, cpuRandn);
  for (const [a, b, w] of want) assert.deepEqual(Array.from(tree.increment(a, b)), w, `[${a}, ${b}]`);
});

test('the tree is one Brownian path: increments add up, and the noise is the normalised increment with its sign', () => {
  const tree = new BrownianTree(0.03, 14.6, 3, 4, cpuRandn);
  const ab = tree.increment(0.5, 2);
  const bc = tree.increment(2, 7.5);
  const ac = tree.increment(0.5, 7.5);
  ac.forEach((v, i) => assert.ok(Math.abs(v - (ab[i] + bc[i])) < 1e-5));
  const noise = brownianNoise(3, 0.03, 14.6, 4, cpuRandn);
  const down = noise(7.5, 2);
  const up = noise(2, 7.5);
  down.forEach((v, i) => {
    assert.ok(Math.abs(v + up[i]) < 1e-6, 'descending gives the negated increment');
    assert.ok(Math.abs(v + bc[i] / Math.sqrt(5.5)) < 1e-5, 'divided by sqrt(|t1 - t0|)');
  });
});
