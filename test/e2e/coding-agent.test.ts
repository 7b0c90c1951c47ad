// `pnpm demo` (examples/coding-agent) driven as a person would: the real program in a real terminal (tmux),
// on the scripted model, with the real filesystem MCP server and a journal file in a temporary sandbox.
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Script from "../../examples/coding-agent/Script.js"
import { blocks, flat, root, server, session, shellQuote } from "./support/tmux.js"

const main = "examples/coding-agent/main.ts"

/** A tmux server of our own and a temporary sandbox, both gone with the scope. */
const terminal = Effect.gen(function*() {
  const { tmux } = yield* server
  const sandbox = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-demo-")))),
    (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
  )
  return { tmux, sandbox }
})

/** The demo in one tmux session: Node itself, not the tsx wrapper, so keys reach the real process; no API key. */
const program = (tmux: Parameters<typeof session>[0], sandbox: string, name: string) =>
  session(
    tmux,
    name,
    ["env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_MODEL", `CHORUS_SANDBOX=${shellQuote(sandbox)}`, shellQuote(process.execPath), "--import tsx", main].join(" "),
    { columns: 100, rows: 50 }
  )

/** The assistant's last answer block on the screen (streaming or finished). */
const lastAnswer = (screen: string) => blocks(screen).filter((block) => block.label === "assistant").at(-1)?.body ?? ""

/** The output above the input line. */
const output = (screen: string) => screen.trimEnd().split("\n").slice(0, -1).join("\n")

const count = (screen: string, text: string) => flat(screen).split(text).length - 1

describe("pnpm demo: the coding agent in a terminal", () => {
  it.live("streams, stops on Ctrl-C, queues, takes a rejection with a reason, writes on approval, edits lines, resumes after a restart", () =>
    Effect.gen(function*() {
      const { sandbox, tmux } = yield* terminal
      const hello = Path.join(sandbox, Script.fileName)

      // --- first run -----------------------------------------------------------------------------
      const one = program(tmux, sandbox, "one")
      yield* one.start
      const banner = yield* one.waitForPrompt("you ›")
      assert.strictEqual(banner.split("\n")[0]?.trim(), "Chorus coding agent · scripted model (set OPENAI_API_KEY to use OpenAI)")
      assert.include(flat(banner), `sandbox: ${sandbox}`)
      assert.include(flat(banner), "these ask for approval: write_file")

      yield* one.type("Please write a hello world program")
      // The reasoning shows, dimmed, in its own block; then the answer streams: it grows while we watch.
      yield* one.waitForText("assistant · thinking The user asked:")
      const early = yield* one.waitFor("the answer to start", (screen) => lastAnswer(output(screen)).startsWith("Sure. I"))
      const earlyLength = lastAnswer(output(early)).length
      yield* one.waitFor("the answer to grow", (screen) => lastAnswer(output(screen)).length > earlyLength + 10)
      yield* one.press("C-c")
      // The run stops, the partial answer stays, marked; the program is still there.
      const stopped = yield* one.waitForText("[stopped]")
      const partial = lastAnswer(stopped)
      assert.match(partial, /^Sure\. I .* \[stopped\]$/)
      assert.isAbove(partial.length, earlyLength)
      assert.notInclude(partial, "before anything happens", "the answer was cut before its end")
      assert.notInclude(stopped, "[exited")
      yield* one.waitForPrompt("you ›")
      assert.isFalse(Fs.existsSync(hello))

      // Another message is answered; one typed while the agent works is shown queued.
      yield* one.type("Try again please")
      yield* one.waitFor("the second answer", (screen) => count(screen, "assistant Sure. I") === 2)
      yield* one.type("What is in the sandbox?")
      yield* one.waitForText("⧗ queued for assistant: What is in the sandbox?")

      // The write asks for approval, its arguments shown once, formatted; nothing is written before a yes.
      const asked = yield* one.waitForPrompt("approve write_file? ›")
      assert.include(flat(asked), "assistant · ⚙ write_file path: hello.py content: │ #!/usr/bin/env python3")
      assert.include(asked, `│     print("Hello from the Chorus sandbox!")`)
      assert.notInclude(asked, `{"path"`)
      assert.notInclude(asked, "\\n")
      assert.include(flat(asked), "y approves · n [reason] rejects")
      // A rejection with a reason: the person reads their own words, not what the model is told.
      yield* one.type("n too risky")
      const rejected = yield* one.waitForText(`OK, I did not run write_file ("too risky")`)
      assert.include(flat(rejected), "✗ write_file rejected by you: too risky")
      assert.notInclude(rejected, "Do not retry")
      assert.isFalse(Fs.existsSync(hello))
      // The queued message is taken next (the scripted model writes again), and this time approved.
      yield* one.waitFor("the queue to empty", (screen) => !flat(screen.split("\n").slice(-6).join("\n")).includes("⧗ queued"))
      yield* one.waitForPrompt("approve write_file? ›")
      yield* one.type("y")
      yield* one.waitForText("✓ write_file: Successfully wrote to hello.py")
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPy)
      yield* one.waitForText("Done: hello.py is in the sandbox")
      yield* one.waitForPrompt("you ›")
      // A read-only tool asks nothing.
      yield* one.type("What is in the sandbox?")
      yield* one.waitForText("The sandbox holds 2 entries: [DIR] .chorus, [FILE] hello.py.")
      yield* one.waitForPrompt("you ›")
      // History: Up brings the last line back; Ctrl-U clears it.
      yield* one.press("Up")
      yield* one.waitForPrompt("you › What is in the sandbox?")
      yield* one.press("C-u")
      yield* one.waitForPrompt("you ›")
      // Line editing: a typo fixed mid-line.
      yield* one.press("-l", "/qut")
      yield* one.press("Left")
      yield* one.press("-l", "i")
      yield* one.waitForPrompt("you › /quit")
      yield* one.press("Enter")
      yield* one.waitForText("[exited 0]")

      // --- second run, same sandbox: the conversation is resumed ----------------------------------
      const two = program(tmux, sandbox, "two")
      yield* two.start
      const resumed = flat(yield* two.waitForText("── resumed ──"))
      const history = resumed.slice(resumed.indexOf("── earlier in this conversation ──"), resumed.indexOf("── resumed ──"))
      for (
        const earlier of [
          "you Please write a hello world program",
          "[stopped]",
          "you Try again please",
          "you What is in the sandbox?",
          "✗ write_file rejected by you: too risky",
          "✓ write_file: Successfully wrote to hello.py",
          "The sandbox holds 2 entries"
        ]
      ) assert.include(history, earlier)
      yield* two.waitForPrompt("you ›")
      // A new message is answered with the earlier context.
      yield* two.type("What have we done so far?")
      yield* two.waitForText(`messages; the first was "Please write a hello world program". I wrote hello.py once`)
      yield* two.waitForPrompt("you ›")
      // A write left waiting for approval when the program ends...
      yield* two.type("Write it again")
      const again = yield* two.waitForPrompt("approve write_file? ›")
      assert.include(again, "(version 2)")
      yield* two.type("/quit")
      yield* two.waitForText("[exited 0]")
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPy)

      // --- third run: the pending approval is asked again, and runs once when approved ------------
      const three = program(tmux, sandbox, "three")
      yield* three.start
      const reasked = yield* three.waitForPrompt("approve write_file? ›")
      // The request is in the history; the prompt asks it again now.
      assert.include(reasked.slice(0, reasked.indexOf("── resumed ──")), "? write_file waits for your approval")
      assert.include(reasked, "(version 2)")
      yield* three.type("y")
      yield* three.waitFor("the second write", (screen) => count(screen, "✓ write_file: Successfully wrote to hello.py") === 2)
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPyAgain(2))
      yield* three.waitFor("the closing message", (screen) => count(screen, "ask me anything about what we did.") === 2)
      yield* three.waitForPrompt("you ›")
      // Ctrl-C while idle leaves.
      yield* three.press("C-c")
      yield* three.waitForText("[exited 0]")
    }).pipe(Effect.scoped), { timeout: 240_000 })

  it.live("piped input: each line waits for the answer to the one before, and the demo leaves after the last answer; the default sandbox is outside the repository", () =>
    Effect.gen(function*() {
      const state = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-state-"))),
        (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
      )
      const result = yield* Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
        const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: state }
        delete env.OPENAI_API_KEY
        delete env.CHORUS_SANDBOX
        const child = spawn(process.execPath, ["--import", "tsx", main], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
        child.on("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
        child.stdin.end("Please write a hello world program\ny\nWhat have we done so far?\n")
        return Effect.sync(() => child.kill("SIGKILL"))
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const sandbox = Path.join(state, "chorus", "coding-agent")
      assert.strictEqual(Fs.readFileSync(Path.join(sandbox, Script.fileName), "utf8"), Script.helloPy)
      assert.isFalse(Fs.existsSync(Path.join(root, "sandbox")), "nothing is created in the repository")
      // The y answered the approval (it was not sent as a message), and the last question was answered before leaving.
      assert.include(result.stdout, "✓ approved by you")
      assert.include(result.stdout, "Done: hello.py is in the sandbox")
      assert.include(flat(result.stdout), "So far you sent me 2 messages")
      assert.notInclude(result.stdout, "\x1b", "no styles in a pipe")
      assert.match(result.stdout, /Bye\. The conversation is saved in .*journal\.jsonl/)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("refuses a sandbox that is a file and a corrupted journal with a clear message, touching neither", () =>
    Effect.gen(function*() {
      const { sandbox } = yield* terminal
      const run = (sandboxSetting: string) =>
        Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
          const env: NodeJS.ProcessEnv = { ...process.env, CHORUS_SANDBOX: sandboxSetting }
          delete env.OPENAI_API_KEY
          const child = spawn(process.execPath, ["--import", "tsx", main], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] })
          let stdout = ""
          let stderr = ""
          child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
          child.on("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
          return Effect.sync(() => child.kill("SIGKILL"))
        })

      const file = Path.join(sandbox, "not-a-directory")
      Fs.writeFileSync(file, "just a file\n")
      const notDirectory = yield* run(file)
      assert.strictEqual(notDirectory.code, 1)
      assert.include(notDirectory.stderr, `cannot use ${file} as the sandbox (CHORUS_SANDBOX)`)
      assert.strictEqual(Fs.readFileSync(file, "utf8"), "just a file\n")

      const corrupted = Path.join(sandbox, "corrupted")
      const journal = Path.join(corrupted, ".chorus", "journal.jsonl")
      Fs.mkdirSync(Path.dirname(journal), { recursive: true })
      const garbage = "this is not an event\n{\"sequence\":\"one\"}\n"
      Fs.writeFileSync(journal, garbage)
      const refused = yield* run(corrupted)
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, `journal ${journal} is corrupted at line 1`)
      assert.include(refused.stderr, "move the file away to start a new one")
      assert.strictEqual(Fs.readFileSync(journal, "utf8"), garbage, "the journal is left as it was")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
