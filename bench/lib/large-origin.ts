import { BENCH_COMMITTER, data, importOrigin, mainCommit, type PrOrigin } from "./pr-origin.js";

/**
 * An origin (bare repository reached as file://) for the large-PR start figure: main with two small
 * files; PR 1 adds one file (the warm-up that makes the app's mirror); PRs 2.. each add `files` new
 * files holding `lines` lines in all, their content distinct per PR so that each one's objects are
 * new to the mirror (a warm mirror, a cold PR, as on a busy repository). One `git fast-import`.
 */
export function largePrOrigin(dir: string, owner: string, name: string, options: { largePrs: number; files: number; lines: number }): PrOrigin {
  const stream: string[] = [
    ...mainCommit(`# ${owner}/${name}\n`),
    "commit refs/pull/1/head",
    "mark :2",
    BENCH_COMMITTER,
    data("PR 1: a small change"),
    "from :1",
    "M 100644 inline src/feature.ts",
    data('import { compute } from "./index.js";\nexport const value = compute();\n'),
  ];
  const base = Math.floor(options.lines / options.files);
  const extra = options.lines - base * options.files;
  for (let pr = 2; pr < 2 + options.largePrs; pr++) {
    stream.push(`commit refs/pull/${pr}/head`, `mark :${pr + 1}`, BENCH_COMMITTER, data(`PR ${pr}: ${options.files} new modules`), "from :1");
    for (let k = 0; k < options.files; k++) {
      const n = base + (k < extra ? 1 : 0);
      const lines: string[] = [];
      for (let i = 1; i <= n; i++) lines.push(`export const v${i} = "pr ${pr} module ${k} line ${i}";`);
      stream.push(`M 100644 inline packages/p${k % 40}/src/module-${String(k).padStart(4, "0")}.ts`, data(`${lines.join("\n")}\n`));
    }
  }
  return importOrigin(dir, owner, name, stream);
}
