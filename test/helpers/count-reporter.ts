import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints `N passed, N failed[, N skipped]` as the very last line of a run, the closing line CI reads to tell a
 * green run from one that ran no test. Vitest's own summary has a different shape.
 *
 * A file whose setup failed (a `beforeAll` that threw, an import that broke) reports its tests as skipped, not
 * failed; they count as failed here, since they did not run for a reason other than being skipped on purpose.
 */
export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const testModule of testModules) {
      const tests = [...testModule.children.allTests()];
      const states = tests.map((test) => test.result().state);
      const moduleBroke = testModule.state() === 'failed' && !states.includes('failed');
      if (moduleBroke && tests.length === 0) failed += 1;
      for (const state of states) {
        if (state === 'passed') passed += 1;
        else if (state === 'failed' || moduleBroke) failed += 1;
        else skipped += 1;
      }
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  }
}
