import { SamplerError } from './errors.ts';

/**
 * torch-compatible random numbers on the CPU (reference §A.10), so a user's seed reproduces the reference's noise:
 * `randn(shape, seed)` equals `torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed))`.
 *
 * Sources (paraphrased): ATen `core/MT19937RNGEngine.h` (mt19937 seeded with the low 32 bits of the seed),
 * `core/DistributionsHelper.h` (uniforms: 24 bits for float, 53 bits from two draws for double) and
 * `native/cpu/DistributionTemplates.h` (`normal_fill`: all uniforms first, then Box–Muller in blocks of 16, the last
 * block redrawn when the size is not a multiple of 16; tensors under 16 elements use the scalar double path, which
 * caches the second value of each pair).
 */
export interface TorchGenerator {
  /** Next raw 32-bit output of mt19937. */
  nextUint32(): number;
  /** `at::uniform_real_distribution<float>(0, 1)`: 24 random bits. */
  nextFloat(): number;
  /** `at::uniform_real_distribution<double>(0, 1)`: 53 bits from two draws, the first one high. */
  nextDouble(): number;
  /** `at::normal_distribution<double>(0, 1)` with the generator's cached second sample. */
  nextNormalDouble(): number;
}

const N = 624;
const M = 397;

/** A generator in the state `torch.Generator('cpu').manual_seed(seed)` leaves it in. */
export function createTorchGenerator(seed: number | bigint): TorchGenerator {
  const state = new Uint32Array(N);
  state[0] = Number(BigInt.asUintN(32, toSeed(seed)));
  for (let j = 1; j < N; j++) {
    const prev = state[j - 1]!;
    state[j] = Math.imul(1812433253, prev ^ (prev >>> 30)) + j;
  }
  let next = N;
  let cachedNormal: number | undefined;

  const twist = (): void => {
    for (let k = 0; k < N; k++) {
      const y = (state[k]! & 0x80000000) | (state[(k + 1) % N]! & 0x7fffffff);
      state[k] = state[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    next = 0;
  };

  const nextUint32 = (): number => {
    if (next >= N) twist();
    let y = state[next++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
  const nextFloat = (): number => (nextUint32() & 0xffffff) * 2 ** -24;
  const nextDouble = (): number => {
    const high = nextUint32() & 0x1fffff;
    const low = nextUint32();
    return (high * 2 ** 32 + low) * 2 ** -53;
  };
  const nextNormalDouble = (): number => {
    if (cachedNormal !== undefined) {
      const value = cachedNormal;
      cachedNormal = undefined;
      return value;
    }
    const u1 = nextDouble();
    const u2 = nextDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
  return { nextUint32, nextFloat, nextDouble, nextNormalDouble };
}

/**
 * Standard normal float32 noise of `shape`, identical to torch's CPU `randn` for the same seed.
 *
 * @returns a new Float32Array of `prod(shape)` values in row-major order.
 */
export function randn(shape: readonly number[], seed: number | bigint): Float32Array {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new SamplerError('ShapeMismatch', `noise shape must be non-negative integers, got [${shape.join(', ')}]`);
    size *= d;
  }
  const out = new Float32Array(size);
  const generator = createTorchGenerator(seed);
  if (size < 16) {
    for (let i = 0; i < size; i++) out[i] = generator.nextNormalDouble();
    return out;
  }
  for (let i = 0; i < size; i++) out[i] = generator.nextFloat();
  for (let i = 0; i + 16 <= size; i += 16) boxMuller16(out, i);
  if (size % 16 !== 0) {
    const start = size - 16;
    for (let i = 0; i < 16; i++) out[start + i] = generator.nextFloat();
    boxMuller16(out, start);
  }
  return out;
}

/** `normal_fill_16`: pairs element j with j + 8 of a block of 16 uniforms, in float32 as torch computes it. */
function boxMuller16(data: Float32Array, offset: number): void {
  const f = Math.fround;
  for (let j = 0; j < 8; j++) {
    const u1 = f(1 - data[offset + j]!);
    const u2 = data[offset + j + 8]!;
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(2 * Math.PI * u2);
    data[offset + j] = radius * f(Math.cos(theta));
    data[offset + j + 8] = radius * f(Math.sin(theta));
  }
}

function toSeed(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') return seed;
  if (!Number.isSafeInteger(seed)) throw new SamplerError('InvalidOption', `seed must be an integer, got ${seed}`);
  return BigInt(seed);
}
