// `pnpm demo` (examples/coding-agent) driven as a person would: the real program in a real terminal (tmux),
// on the scripted model, with the real filesystem MCP server and a journal file in a temporary sandbox.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Clock, Effect } from "effect"
import * as Script from "../../examples/coding-agent/Script.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const main = "examples/coding-agent/main.ts"

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

/** A tmux server of our own (its own socket), killed with the scope, and a temporary sandbox, removed with it. */
const terminal = Effect.acquireRelease(
  Effect.sync(() => {
    const socket = `chorus-coding-agent-${process.pid}-${Math.random().toString(36).slice(2)}`
    const sandbox = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-demo-")))
    const tmux = (...args: ReadonlyArray<string>) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    return { socket, sandbox, tmux }
  }),
  ({ sandbox, socket, tmux }) =>
    Effect.sync(() => {
      try {
        tmux("kill-server")
      } catch {
        // The server was not started, or is gone already.
      }
      // tmux leaves its socket file behind.
      const uid = process.getuid?.() ?? 0
      Fs.rmSync(Path.join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${uid}`, socket), { force: true })
      Fs.rmSync(sandbox, { recursive: true, force: true })
    })
)

type Tmux = (...args: ReadonlyArray<string>) => string

/** The program as it runs in one tmux session: start it, read its screen, type into it. */
const program = (tmux: Tmux, sandbox: string, session: string) => {
  const start = Effect.sync(() => {
    // Node itself, not the tsx wrapper, so what the terminal sends reaches the real process; no API key.
    const command = [
      "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_MODEL",
      `CHORUS_SANDBOX=${shellQuote(sandbox)}`,
      shellQuote(process.execPath),
      "--import tsx",
      main
    ].join(" ")
    // The shell stays after the program so its exit code can be read from the screen.
    tmux(
      "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "-c", root,
      `${command}; echo "[exited $?]"; sleep 600`
    )
  })
  const capture = Effect.sync(() => tmux("capture-pane", "-p", "-J", "-S", "-3000", "-t", session))
  /** The screen with runs of whitespace (line ends included) as one space: the text as it reads. */
  const flat = (screen: string) => screen.replace(/\s+/g, " ")
  /** Polls the screen until the predicate holds; fails with the screen after the deadline. */
  const waitFor = (what: string, predicate: (screen: string) => boolean, seconds = 45) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + seconds * 1000
      while (true) {
        const screen = yield* capture
        if (predicate(screen)) return screen
        if ((yield* Clock.currentTimeMillis) > deadline) {
          return yield* Effect.dieMessage(`timed out waiting for ${what}; the screen:\n${screen}`)
        }
        yield* Effect.sleep("50 millis")
      }
    })
  const waitForText = (text: string, seconds?: number) => waitFor(JSON.stringify(text), (screen) => flat(screen).includes(text), seconds)
  const count = (screen: string, text: string) => flat(screen).split(text).length - 1
  const type = (text: string) =>
    Effect.sync(() => {
      tmux("send-keys", "-t", session, "-l", text)
      tmux("send-keys", "-t", session, "Enter")
    })
  const press = (key: string) => Effect.sync(() => tmux("send-keys", "-t", session, key))
  /** The last line with text: the input line while the program runs. */
  const inputLine = (screen: string) => screen.trimEnd().split("\n").at(-1)?.trim() ?? ""
  const waitForPrompt = (prompt: "you>" | "approve? [y/n]") =>
    waitFor(`the prompt "${prompt}"`, (screen) => inputLine(screen) === prompt)
  /** The output above the input line. */
  const output = (screen: string) => {
    const lines = screen.trimEnd().split("\n")
    return lines.slice(0, -1).join("\n")
  }
  return { start, capture, flat, output, waitFor, waitForText, count, type, press, inputLine, waitForPrompt }
}

/** The answer being streamed: the text after the last `assistant>` label. */
const lastAnswer = (flat: string) => flat.slice(flat.lastIndexOf("assistant> ") + "assistant> ".length)

describe("pnpm demo: the coding agent in a terminal", () => {
  it.live("streams, stops on Ctrl-C and stays, queues, asks approval (again on garbage), writes the file, resumes after a restart", () =>
    Effect.gen(function*() {
      const { sandbox, tmux } = yield* terminal
      const hello = Path.join(sandbox, Script.fileName)

      // --- first run -----------------------------------------------------------------------------
      const one = program(tmux, sandbox, "one")
      yield* one.start
      const banner = yield* one.waitForPrompt("you>")
      assert.strictEqual(banner.split("\n")[0]?.trim(), "Chorus coding agent · scripted model (set OPENAI_API_KEY to use OpenAI)")
      assert.include(one.flat(banner), `sandbox: ${sandbox}`)
      assert.include(one.flat(banner), "these ask for approval: write_file")

      yield* one.type("Please write a hello world program")
      // The reasoning shows, then the answer streams: it grows while we watch.
      yield* one.waitForText("thinking: The user asked:")
      const early = yield* one.waitFor("the answer to start", (screen) => one.flat(screen).includes("assistant> Sure. I"))
      const earlyLength = lastAnswer(one.flat(one.output(early))).length
      yield* one.waitFor("the answer to grow", (screen) => lastAnswer(one.flat(one.output(screen))).length > earlyLength + 10)
      yield* one.press("C-c")
      // The run stops, the partial answer stays, marked; the program is still there.
      const stopped = yield* one.waitForText("[stopped]")
      const partial = lastAnswer(one.flat(stopped.slice(0, stopped.indexOf("[stopped]"))))
      assert.isAbove(partial.length, earlyLength)
      assert.notInclude(one.flat(stopped), "before anything happens", "the answer was cut before its end")
      assert.notInclude(stopped, "[exited")
      yield* one.waitForPrompt("you>")
      assert.isFalse(Fs.existsSync(hello))

      // Another message is answered; one typed while the agent works is queued.
      yield* one.type("Try again please")
      yield* one.waitFor("the second answer", (screen) => one.count(screen, "assistant> Sure. I") === 2)
      yield* one.type("What is in the sandbox?")
      // Marked after the message, or on a line of its own when a delta of the answer came in between.
      yield* one.waitFor("the message to be queued", (screen) =>
        one.flat(screen).includes("you> What is in the sandbox? (queued)") ||
        one.flat(screen).includes("(queued: What is in the sandbox?)"))

      // The write asks for approval, with its arguments; garbage asks again; nothing is written before a yes.
      const asked = yield* one.waitForPrompt("approve? [y/n]")
      assert.include(one.flat(asked), "? write_file wants your approval (y/n): path: hello.py content:")
      assert.include(asked, `│     print("Hello from the Chorus sandbox!")`)
      assert.isFalse(Fs.existsSync(hello))
      yield* one.type("maybe")
      yield* one.waitForText("Please answer y or n")
      assert.strictEqual(one.inputLine(yield* one.capture), "approve? [y/n]")
      assert.isFalse(Fs.existsSync(hello))
      yield* one.type("y")
      yield* one.waitForText("✓ write_file: Successfully wrote to hello.py")
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPy)
      yield* one.waitForText("Done: hello.py is in the sandbox")
      // Then the queued message is handled, with a read-only tool that asks nothing.
      yield* one.waitForText("The sandbox holds 2 entries: [DIR] .chorus, [FILE] hello.py.")
      yield* one.waitForPrompt("you>")
      yield* one.type("/quit")
      yield* one.waitForText("[exited 0]")

      // --- second run, same sandbox: the conversation is resumed ----------------------------------
      const two = program(tmux, sandbox, "two")
      yield* two.start
      const resumed = two.flat(yield* two.waitForText("── resumed ──"))
      const history = resumed.slice(resumed.indexOf("── earlier in this conversation ──"), resumed.indexOf("── resumed ──"))
      for (
        const earlier of [
          "you> Please write a hello world program",
          "[stopped]",
          "you> Try again please",
          "you> What is in the sandbox?",
          "✓ write_file: Successfully wrote to hello.py",
          "The sandbox holds 2 entries"
        ]
      ) assert.include(history, earlier)
      yield* two.waitForPrompt("you>")
      // A new message is answered with the earlier context.
      yield* two.type("What have we done so far?")
      yield* two.waitForText(
        `So far you sent me 4 messages; the first was "Please write a hello world program". I wrote hello.py once`
      )
      yield* two.waitForPrompt("you>")
      // A write left waiting for approval when the program ends...
      yield* two.type("Write it again")
      const again = yield* two.waitForPrompt("approve? [y/n]")
      assert.include(again, "(version 2)")
      yield* two.type("/quit")
      yield* two.waitForText("[exited 0]")
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPy)

      // --- third run: the pending approval is asked again, and runs once when approved ------------
      const three = program(tmux, sandbox, "three")
      yield* three.start
      const reasked = yield* three.waitForPrompt("approve? [y/n]")
      const afterResume = reasked.slice(reasked.indexOf("── resumed ──"))
      assert.include(three.flat(afterResume), "? write_file wants your approval (y/n): path: hello.py")
      assert.include(afterResume, "(version 2)")
      yield* three.type("y")
      yield* three.waitFor("the second write", (screen) => three.count(screen, "✓ write_file: Successfully wrote to hello.py") === 2)
      assert.strictEqual(Fs.readFileSync(hello, "utf8"), Script.helloPyAgain(2))
      yield* three.waitFor("the closing message", (screen) => three.count(screen, "ask me anything about what we did.") === 2)
      yield* three.waitForPrompt("you>")
      // Ctrl-C while idle leaves.
      yield* three.press("C-c")
      yield* three.waitForText("[exited 0]")
    }).pipe(Effect.scoped), { timeout: 240_000 })

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
