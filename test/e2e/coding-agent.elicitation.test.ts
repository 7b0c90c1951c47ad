// `CODING_AGENT_EVERYTHING=true pnpm demo`: the coding agent with the real server-everything MCP server beside the
// filesystem server, in a real terminal (tmux), on the scripted model. The server's `elicitation/create` goes through
// the environment (McpEnvironment) and the library Terminal asks the person; the answer goes back to the server,
// whose tool result (and the model's reply quoting it) shows what it received.
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { blocks, flat, server, session, shellQuote } from "./support/tmux.js"

const main = "examples/coding-agent/main.ts"

const count = (screen: string, text: string) => flat(screen).split(text).length - 1

/** The demo with server-everything attached, in one tmux session, on the scripted model. */
const program = (tmux: Parameters<typeof session>[0], sandbox: string, name: string) =>
  session(
    tmux,
    name,
    [
      "env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u OPENAI_MODEL",
      "CODING_AGENT_EVERYTHING=true",
      `CHORUS_SANDBOX=${shellQuote(sandbox)}`,
      shellQuote(process.execPath),
      "--import tsx",
      main
    ].join(" "),
    { columns: 100, rows: 50 }
  )

/** A temporary sandbox, gone with the scope. */
const temporarySandbox = Effect.acquireRelease(
  Effect.sync(() => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-demo-")))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

describe("pnpm demo with CODING_AGENT_EVERYTHING: an MCP elicitation answered in the terminal", () => {
  it.live("asks for server-everything's form, refuses a bad answer, sends name=value pairs to the server, then a decline", () =>
    Effect.gen(function*() {
      const { tmux } = yield* server
      const sandbox = yield* temporarySandbox
      const demo = program(tmux, sandbox, "everything")
      yield* demo.start
      const banner = flat(yield* demo.waitForPrompt("you ›"))
      assert.include(banner, "tools: ")
      assert.include(banner, "from filesystem and everything;")
      assert.include(banner, "server-everything attached")

      // The request: the scripted model calls the form tool, which needs no approval; the server asks the person.
      yield* demo.type("Please sign me up")
      const asked = yield* demo.waitForPrompt("answer everything ›")
      assert.include(flat(asked), "everything · asks you Please provide inputs for the following fields:")
      assert.include(flat(asked), "name (string, required)")
      assert.include(flat(asked), "integer (integer)")
      assert.include(flat(asked), "name=value, … (or a JSON object) answers · decline · cancel")
      assert.notInclude(asked, "approve trigger-elicitation-request")

      // An answer that does not fit the form is refused, says why, and the question stays open.
      yield* demo.type("name=Ada Lovelace, integer=500")
      const refused = yield* demo.waitForText("try again.")
      assert.include(flat(refused), "integer")
      yield* demo.waitForPrompt("answer everything ›")
      assert.strictEqual(count(refused, "User provided the requested information"), 0)

      // name=value pairs, typed: a string with a space, a boolean, an email, an integer; the defaults fill the rest.
      yield* demo.type("name=Ada Lovelace, check=yes, email=ada@example.com, integer=7")
      // The tool's result reaches the model, whose finished reply quotes what the server received.
      yield* demo.waitForText("- Favorite Number: 3.14")
      const done = yield* demo.waitFor("the reply to finish", (screen) =>
        demo.inputLine(screen) === "you ›" && !flat(screen).includes("working · Ctrl-C stops"))
      assert.include(flat(done), "↳ answered by you")
      assert.include(flat(done), "✓ trigger-elicitation-request")
      const reply = blocks(done).filter((block) => block.label === "assistant").at(-1)?.body ?? ""
      assert.match(reply, /^The server answered:/)
      for (
        const line of [
          "User provided the requested information!",
          "- Name: Ada Lovelace",
          "- Agreed to terms: true",
          "- Email: ada@example.com",
          "- Favorite Integer: 7",
          "- Favorite Number: 3.14"
        ]
      ) assert.include(reply, line)
      assert.notInclude(reply, "Raw result")

      // A decline: the server is told, and says so.
      yield* demo.type("Sign me up again")
      yield* demo.waitFor("a second form", (screen) => count(screen, "everything · asks you") === 2)
      yield* demo.waitForPrompt("answer everything ›")
      yield* demo.type("decline")
      const declined = flat(yield* demo.waitForText("User declined to provide the requested information."))
      assert.include(declined, "↳ declined by you")
      yield* demo.waitForPrompt("you ›")
      assert.strictEqual(count(yield* demo.capture, "- Name: Ada Lovelace"), count(done, "- Name: Ada Lovelace"))

      yield* demo.type("/quit")
      yield* demo.waitForText("[exited 0]")
    }).pipe(Effect.scoped), { timeout: 180_000 })

  it.live("a form left waiting when the demo is killed is withdrawn on restart, not asked again for a server that is gone", () =>
    Effect.gen(function*() {
      const { tmux } = yield* server
      const sandbox = yield* temporarySandbox
      const one = program(tmux, sandbox, "one")
      yield* one.start
      yield* one.waitForPrompt("you ›")
      yield* one.type("Please sign me up")
      yield* one.waitForPrompt("answer everything ›")
      // SIGKILL: nothing of the program runs any more; the journal still shows the request pending.
      const shell = tmux("list-panes", "-t", "one", "-F", "#{pane_pid}").trim()
      const node = execFileSync("pgrep", ["-P", shell], { encoding: "utf8" }).trim().split("\n")[0]!
      process.kill(Number(node), "SIGKILL")
      yield* one.waitForText("[exited 137]")

      const two = program(tmux, sandbox, "two")
      yield* two.start
      yield* two.waitForText("the question was withdrawn: the demo was restarted")
      // The call that was waiting is cancelled by the restart (its line may be drawn just after the prompt
      // returns: the withdrawal and the cancelled output are separate events); the old form is not asked again.
      yield* two.waitForText("✗ trigger-elicitation-request cancelled (interrupted by a restart)")
      const settled = yield* two.waitFor("the demo to settle", (screen) =>
        two.inputLine(screen) === "you ›" && !flat(screen).includes("working · Ctrl-C stops"))
      assert.include(flat(settled), "✗ trigger-elicitation-request cancelled (interrupted by a restart)")
      assert.notInclude(settled.slice(settled.indexOf("── resumed ──")), "answer everything ›")
      // A new request asks this run's server, and its answer arrives.
      yield* two.type("Sign me up again")
      yield* two.waitForPrompt("answer everything ›")
      yield* two.type("name=Grace Hopper")
      yield* two.waitForText("- Name: Grace Hopper")
      yield* two.waitForPrompt("you ›")
      yield* two.type("/quit")
      yield* two.waitForText("[exited 0]")
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
