// A1111's random sources. Golden values come from outside this code:
// - NV/GPU (Philox): A1111's modules/rng_philox.py executed with numpy 2.4.6 (float32 bit patterns below), its
//   docstring's printed seed-0 values, and torch 2.11 torch.randn on an H100 (CUDA).
// - CPU: values PyTorch users publish for torch.manual_seed(0) (kornia's and torch docs' examples, 4 decimals), and
//   bit patterns from torch 2.11's portable CPU kernel (ATEN_CPU_CAPABILITY=default).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { PhiloxGenerator, TorchCpuGenerator, philox4x32, imageNoise, slerp, pasteCentred, createGenerator } from '../src/rng';

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const fromBits = (b: number[]) => new Float32Array(Uint32Array.from(b).buffer);
const near = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what} [${i}]: ${actual[i]} vs ${expected[i]}`);
};

// A1111 rng_philox.Generator(0).randn((3, 4)) then a second randn((3, 4)) on the same generator, run under numpy 2.4.6
const A1111_SEED0 = [
  3211572909, 3201943215, 3223925957, 1041541909, 3187116252, 3205785831, 3206509359, 3198689884, 3213462168, 3199856134, 3218466043, 1074855433,
];
const A1111_SEED0_SECOND = [
  1043933804, 3205325079, 1064075017, 3208390404, 1068540842, 1063132428, 1040499846, 3211840968, 1062180806, 1063374367, 3212948098, 3199863486,
];
// Generator(2**32 + 5).randn((4,)): a seed above 32 bits uses the key's high word
const A1111_SEED_2P32_PLUS_5 = [3224760211, 1068209473, 1049321944, 1069170560];
// Generator(12345).randn((4, 64, 64)): first and last four
const A1111_SEED12345_LATENT = { first: [1058283990, 3204863584, 3197465704, 1013291657], last: [3197287669, 1056732447, 1011579621, 1074816580] };
// The docstring of rng_philox.py ("Expected output" for seed 0, shape (3, 4)), as printed there
const DOCSTRING_SEED0 = [
  -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564, -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067, 2.26550497,
];
// torch.randn((3, 4), generator=torch.Generator('cuda').manual_seed(0), device='cuda'), torch 2.11, H100
const CUDA_SEED0 = [
  3211572909, 3201943224, 3223925957, 1041541908, 3187116238, 3205785832, 3206509354, 3198689876, 3213462167, 3199856129, 3218466043, 1074855432,
];

test('Philox 4x32-10 + Box-Muller reproduces A1111 rng_philox bit for bit (seed 0, both offsets)', () => {
  const g = new PhiloxGenerator(0);
  assert.deepEqual(bitsOf(g.randn(12)), A1111_SEED0);
  assert.deepEqual(bitsOf(g.randn(12)), A1111_SEED0_SECOND);
});

test('Philox: a 64-bit seed and a latent-sized draw match A1111 rng_philox bit for bit', () => {
  assert.deepEqual(bitsOf(new PhiloxGenerator(2 ** 32 + 5).randn(4)), A1111_SEED_2P32_PLUS_5);
  const latent = new PhiloxGenerator(12345).randn(4 * 64 * 64);
  assert.deepEqual(bitsOf(latent.subarray(0, 4)), A1111_SEED12345_LATENT.first);
  assert.deepEqual(bitsOf(latent.subarray(latent.length - 4)), A1111_SEED12345_LATENT.last);
});

test("Philox agrees with rng_philox.py's docstring and with CUDA torch.randn to float32 rounding of the Box-Muller math", () => {
  // The docstring prints values from a CUDA run (f32 intrinsics); A1111's numpy code itself gives the bits above.
  const v = new PhiloxGenerator(0).randn(12);
  near(v, DOCSTRING_SEED0, 3e-7, 'docstring');
  near(v, fromBits(CUDA_SEED0), 3e-7, 'cuda');
});

test('the Philox block function on a known counter gives the words A1111 feeds to Box-Muller', () => {
  // first words of block (counter 0,0,i,0; key 0,0), as A1111's philox4_32 returns them (numpy 2.4.6)
  assert.deepEqual(philox4x32(0, 0, 0, 0, 0, 0), [1713891541, 3781805453]);
  assert.deepEqual(philox4x32(0, 0, 1, 0, 0, 0)[0], 2219120097);
});

test('torch CPU generator: torch.manual_seed(0); torch.randn(1, 1, 4, 4) as published', () => {
  near(
    new TorchCpuGenerator(0).randn(16),
    [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.692, -0.316, -2.1152, 0.3223, -1.2633, 0.35, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473],
    5e-5,
    'randn(4,4)',
  );
});

test('torch CPU generator: three randn(4, 4) in a row continue the stream as published', () => {
  const g = new TorchCpuGenerator(0);
  g.randn(16);
  near(
    g.randn(16),
    [-1.3527, -1.6959, 0.5667, 0.7935, 0.5988, -1.5551, -0.3414, 1.853, 0.7502, -0.5855, -0.1734, 0.1835, 1.3894, 1.5863, 0.9463, -0.8437],
    5e-5,
    'second',
  );
  near(
    g.randn(16),
    [-0.6136, 0.0316, -0.4927, 0.2484, 0.4397, 0.1124, 0.6408, 0.4412, -0.1023, 0.7924, -0.2897, 0.0525, 0.5229, 2.3022, -1.4689, -1.5867],
    5e-5,
    'third',
  );
});

test('torch CPU generator: randn(10, 4) redraws its last 16 values (size not a multiple of 16), then randn(4, 4)', () => {
  const g = new TorchCpuGenerator(0);
  const x = g.randn(40);
  near(x.subarray(16, 24), [-1.3527, -1.6959, 0.5667, 0.7935, 0.5988, -1.5551, -0.3414, 1.853], 5e-5, 'block 2');
  near(
    x.subarray(24),
    [-0.2159, -0.7425, 0.5627, 0.2596, -0.174, -0.6787, 0.9383, 0.4889, 1.2032, 0.0845, -1.2001, -0.0048, -0.5181, -0.3067, -1.581, 1.7066],
    5e-5,
    'tail',
  );
  near(g.randn(16).subarray(0, 8), [0.2055, -0.4503, -0.5731, -0.5554, 0.5943, 1.5419, 0.5073, -0.591], 5e-5, 'next');
});

test('torch CPU generator: fewer than 16 values use the double Box-Muller with a cached second value', () => {
  const g = new TorchCpuGenerator(0);
  near(g.randn(8), [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986, 0.4033, 0.838], 5e-5, 'rsample((8,))');
  near(new TorchCpuGenerator(0).randn(3), [1.541, -0.2934, -2.1788], 5e-5, 'randn(3)');
});

test("torch CPU generator matches torch 2.11's portable kernel bit for bit on seed 0", () => {
  const g = new TorchCpuGenerator(0);
  assert.deepEqual(
    bitsOf(g.randn(16)),
    [
      3213892485, 3214114954, 3196079062, 3202229598, 1062814997, 1060185988, 3198274669, 3221708738, 1051001144, 3215045876, 1051930879, 1050526650,
      1039495031, 1067346835, 1066332814, 3195876954,
    ],
  );
  assert.deepEqual(
    bitsOf(g.randn(16)),
    [
      3215795138, 3218674759, 1058082818, 1061888862, 1058622859, 3217493339, 3199125191, 1072508750, 1061162090, 3205882660, 3190918909, 1044111779,
      1068619456, 1070271745, 1064452252, 3210214196,
    ],
  );
});

test("image noise: without options the first draw is the generator's first tensor and later draws continue it", () => {
  const shape: [number, number, number] = [4, 8, 8];
  const { first, stream } = imageNoise({ source: 'NV', seed: 7, shape });
  const g = new PhiloxGenerator(7);
  assert.deepEqual(first, g.randn(256));
  assert.deepEqual(stream.randn(256), g.randn(256));
});

test('image noise: eta_noise_seed_delta restarts later draws from seed + delta', () => {
  const { stream } = imageNoise({ source: 'CPU', seed: 7, shape: [4, 8, 8], etaNoiseSeedDelta: 31337 });
  assert.deepEqual(stream.randn(256), new TorchCpuGenerator(7 + 31337).randn(256));
  const numpy = imageNoise({ source: 'numpy', seed: 2 ** 32 - 1, shape: [4, 8, 8], etaNoiseSeedDelta: 2 });
  assert.deepEqual(numpy.stream.randn(4), createGenerator('numpy', 1).randn(4));
});

test('slerp: strength 0 and 1 give the two noises; 0.5 follows the formula along the height axis', () => {
  const shape: [number, number, number] = [1, 2, 1];
  const low = Float32Array.of(1, 0);
  const high = Float32Array.of(0, 1);
  assert.deepEqual(Array.from(slerp(0, low, high, shape)), [1, 0]);
  near(slerp(1, low, high, shape), [0, 1], 1e-7, 't=1');
  near(slerp(0.5, low, high, shape), [Math.SQRT1_2, Math.SQRT1_2], 1e-7, 't=0.5'); // 90 degrees apart: sin(45)/sin(90) each
  // two columns normalised separately: column 0 is (3, 4) vs (4, -3) (orthogonal), column 1 is (1, 0) vs (0, 2)
  const two = slerp(0.5, Float32Array.of(3, 1, 4, 0), Float32Array.of(4, 0, -3, 2), [1, 2, 2]);
  near(two, [7 * Math.SQRT1_2, Math.SQRT1_2, 1 * Math.SQRT1_2, 2 * Math.SQRT1_2], 1e-6, 'columns');
  // almost parallel: A1111 falls back to low * t + high * (1 - t)
  near(slerp(0.25, Float32Array.of(1, 1), Float32Array.of(1, 1.001), shape), [1, 0.25 + 0.75 * 1.001], 1e-6, 'lerp');
});

test("variation seed: the first noise is A1111's slerp of the seed's and the subseed's first draws", () => {
  const shape: [number, number, number] = [4, 8, 8];
  const { first } = imageNoise({ source: 'GPU', seed: 1, subseed: 2, subseedStrength: 0.3, shape });
  assert.deepEqual(first, slerp(0.3, new PhiloxGenerator(1).randn(256), new PhiloxGenerator(2).randn(256), shape));
  assert.deepEqual(imageNoise({ source: 'GPU', seed: 1, subseed: 2, subseedStrength: 0, shape }).first, new PhiloxGenerator(1).randn(256));
});

test("seed resize: noise drawn at the old size is pasted centred into the new size's noise", () => {
  // a 2x2 patch into 4x4 goes to rows/cols 1..2; a 4x4 into 2x2 keeps the centre
  const patch = Float32Array.of(1, 2, 3, 4);
  const base = new Float32Array(16);
  assert.deepEqual(Array.from(pasteCentred(patch, [1, 2, 2], base, [1, 4, 4])), [0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
  const big = Float32Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(Array.from(pasteCentred(big, [1, 4, 4], new Float32Array(4), [1, 2, 2])), [5, 6, 9, 10]);
  // end to end: 64x64 noise of seed 3 into a 128x64 (w x h) latent; later draws continue after the full-size draw
  const { first, stream } = imageNoise({ source: 'NV', seed: 3, shape: [4, 8, 16], seedResizeFromW: 64, seedResizeFromH: 64 });
  const small = new PhiloxGenerator(3).randn(4 * 8 * 8);
  for (let c = 0; c < 4; c++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) assert.equal(first[(c * 8 + y) * 16 + 4 + x], small[(c * 8 + y) * 8 + x]);
  const g = new PhiloxGenerator(3);
  assert.equal(first[0], g.randn(4 * 8 * 16)[0]);
  assert.deepEqual(stream.randn(8), g.randn(8));
});
