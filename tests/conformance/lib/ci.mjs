// Missing dependencies under CI: a test that cannot run there must fail, never skip.
//
// IN_CI is true when CI is "true" or "1" (GitHub Actions, GitLab and most runners set CI=true;
// .ci/run is `./dev test` with CI=true). Outside CI a test may skip for a missing dependency,
// but loudly: announceSkip() prints the reason on stderr as well, and run.sh lists every skipped
// test again in its closing lines.

export const IN_CI = ["true", "1"].includes((process.env.CI ?? "").toLowerCase());

/** A message for a dependency that is missing under CI=true. */
export function requiredUnderCi(what) {
  return `${what}. CI=true: a missing dependency fails the run instead of skipping it.`;
}

/** Prints a skip reason where nobody can miss it (outside CI). */
export function announceSkip(file, reason) {
  process.stderr.write(`\n*** ${file}: SKIPPED: ${reason}\n*** (under CI=true this fails the run)\n\n`);
}
