import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const fixture = join(root, "test/fixtures/resume/agents.ts")

/** Runs the fixture; resolves with its stdout once `until` matches (then kills it with SIGKILL) or it exits. */
const runFixture = (args: ReadonlyArray<string>, until?: string) =>
  new Promise<{ stdout: string; stderr: string; signal: NodeJS.Signals | null; code: number | null }>((resolve, reject) => {
    // Node itself, not the tsx wrapper: SIGKILL must hit the process that writes the journal.
    const child = spawn(process.execPath, ["--import", "tsx", fixture, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`fixture timed out; stdout: ${stdout}; stderr: ${stderr}`))
    }, 60_000)
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (until !== undefined && stdout.includes(until)) child.kill("SIGKILL")
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ stdout, stderr, signal, code })
    })
  })

describe.each(["file", "sqlite"])("killed with SIGKILL mid-run, resumed on the %s journal", (kind) => {
  it("loses nothing and runs nothing twice", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-crash-"))
    try {
      const journal = join(dir, kind === "file" ? "journal.jsonl" : "journal.db")
      const marker = join(dir, "deployed.txt")
      const crashed = await runFixture([kind, journal, marker, "crash"], "READY")
      assert.strictEqual(crashed.signal, "SIGKILL", crashed.stderr)
      assert.isFalse(existsSync(marker), "nothing was deployed before the approval")

      const resumed = await runFixture([kind, journal, marker, "resume"])
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const report = JSON.parse(resumed.stdout.trim().split("\n").at(-1)!) as {
        contiguous: boolean
        runEnds: Array<string>
        writerMessages: Array<{ status: string; text: string }>
        opsRequest: Array<string>
        writerRequest: Array<string>
      }
      // The journal is readable to its last complete event, and numbering continued without a gap.
      assert.isTrue(report.contiguous)
      // The approved call ran exactly once, after the restart.
      assert.strictEqual(readFileSync(marker, "utf8"), "prod\n")
      assert.include(report.opsRequest, "FunctionCallOutput:deployed prod")
      // The streaming run was cut: interrupted, its partial output kept as incomplete.
      assert.includeMembers(report.runEnds, ["ops:completed", "writer:interrupted", "writer:completed"])
      const partial = report.writerMessages[0]!
      assert.strictEqual(partial.status, "incomplete")
      assert.match(partial.text, /^word0 word1 word2 .*word19 /)
      // The queued message was still queued and was handled, with the partial answer in context.
      // (The writer sees the whole conversation, the message addressed to ops included.)
      assert.deepStrictEqual(report.writerRequest, [
        "UserMessage:completed",
        "UserMessage:completed",
        "ModelMessage:incomplete",
        "UserMessage:completed"
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
