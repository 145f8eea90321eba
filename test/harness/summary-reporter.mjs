// Prints one plain closing line, "tests: N passed, N failed, N skipped", as the very last
// line of a run (at process exit, after Jest's own summary), so tools that read a run's
// closing lines need not parse Jest's format.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTodoTests: todo } = results;
    const line = `tests: ${passed} passed, ${failed} failed, ${skipped + todo} skipped\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
