// The README as a new user meets it: the quick start is the file the README shows, and it prints a streamed answer,
// a stop and a queued message; from a fresh clone, "use Chorus in your own project" works, run as written, from an
// empty folder with plain Node.
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../..", import.meta.url))
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")

/** The fenced code block of the given language that follows a heading. */
const block = (heading: string, language: string): string => {
  const section = readme.slice(readme.indexOf(`## ${heading}`))
  const start = section.indexOf("```" + language + "\n")
  assert.isAtLeast(start, 0, `a ${language} block under "${heading}"`)
  const body = section.slice(start + language.length + 4)
  return body.slice(0, body.indexOf("```"))
}

/** What the quick start prints: every block whole, the first answer stopped, the queued question answered after. */
const assertQuickStartOutput = (stdout: string) => {
  const first = "Effect is a TypeScript library for programs that are typed, concurrent and safe with resources"
  const lines = stdout.trimEnd().split("\n")
  assert.deepStrictEqual(lines.slice(0, 5), [
    "you",
    "  What is Effect?",
    "you",
    "  And what is a fiber?",
    "  (queued for assistant: it reads it when its current run ends)"
  ], stdout)
  assert.strictEqual(lines[5], "assistant")
  const stopped = lines.indexOf("  [stopped]")
  const partial = lines.slice(6, stopped).map((line) => line.trim()).join(" ")
  assert.isAbove(partial.length, 10, stdout)
  assert.isTrue(first.startsWith(partial), `a beginning of the first answer: ${partial}`)
  assert.deepStrictEqual(lines.slice(stopped + 1), ["assistant", "  A fiber is a lightweight thread: you can fork it, join it and interrupt it."], stdout)
  // The README shows one such run.
  assert.strictEqual(block("Quick start", "text").split("\n").slice(0, 6).join("\n"), lines.slice(0, 6).join("\n"))
}

describe("README", () => {
  it("the quick start is examples/quick-start.ts, and prints a streamed answer, a stop and a queued message", { timeout: 60_000 }, async () => {
    assert.strictEqual(block("Quick start", "ts"), Fs.readFileSync(Path.join(root, "examples/quick-start.ts"), "utf8"))
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/quick-start.ts"], { cwd: root })
    assertQuickStartOutput(stdout)
  })

  it("use Chorus in your own project: from a fresh clone, an empty folder, plain node", { timeout: 600_000 }, async () => {
    const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-readme-"))
    try {
      // A fresh clone of what is committed, installed as the README says (pnpm's store makes it offline here).
      const clone = Path.join(work, "chorus")
      await run("git", ["clone", "--quiet", root, clone])
      await run("pnpm", ["install", "--frozen-lockfile", "--prefer-offline"], { cwd: clone, maxBuffer: 1 << 24 })
      // The README's block, run as written, with CHORUS pointing at the clone.
      const script = block("Use Chorus in your own project", "sh").replace(/^CHORUS=.*$/m, `CHORUS=${JSON.stringify(clone)}`)
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd: work, maxBuffer: 1 << 24 })
      assertQuickStartOutput(stdout.slice(stdout.indexOf("you\n")))
      assert.isTrue(Fs.existsSync(Path.join(work, "my-agent", "node_modules", "@chorus", "core", "dist", "index.js")))
    } finally {
      Fs.rmSync(work, { recursive: true, force: true })
    }
  })
})
