import { readFileSync } from 'node:fs';

/** Golden values written by `test/oracle/torch_oracle.py` (see test/fixtures/README.md for provenance). */
export interface OracleFixture {
  readonly meta: { torch: string; pusa_vidgen: string; cpu_capability: string };
  readonly noise: readonly {
    shape: number[];
    seed: number;
    first: number[];
    last: number[];
    sum: number;
    sumSq: number;
  }[];
  readonly traces: readonly {
    config: {
      steps: number;
      shift: number;
      channels: number;
      frames: number;
      height: number;
      width: number;
      seed: number;
      cfg: number;
      conds: [number, number][];
    };
    fp32: OracleTrace;
    bf16: OracleTrace;
  }[];
}

export interface OracleTrace {
  readonly steps: { t: number[]; dsigma: number[] }[];
  readonly final: { sumSq: number; meanAbs: number; frameMean: number[]; first: number[] };
}

export function loadOracle(): OracleFixture {
  return JSON.parse(readFileSync(new URL('../fixtures/torch-oracle.json', import.meta.url), 'utf8')) as OracleFixture;
}
