// examples/stream-demo.ts in a real 70-column terminal (tmux): two agents stream at once, and each answer ends up
// whole in its own labelled block, wrapped at word boundaries. It printed "[critic] And Streams nobody of waits
// small for..." before the library's terminal.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { blocks, server, session, shellQuote } from "./support/tmux.js"

const poem = "Streams of small words arrive, each one as soon as it is written."
const critique = "And nobody waits for the whole answer before reading the first word."

describe("examples/stream-demo.ts", () => {
  it.live("two agents streaming at once, each in its own block, in a 70-column terminal", () =>
    Effect.gen(function*() {
      const { tmux } = yield* server
      const demo = session(tmux, "demo", `${shellQuote(process.execPath)} --import tsx examples/stream-demo.ts`, { columns: 70, rows: 30 })
      yield* demo.start
      // While both stream: two blocks, each a beginning of its own answer.
      const partOf = (screen: string, label: string, whole: string) => {
        const body = blocks(screen).find((block) => block.label === label)?.body ?? ""
        return body.length > 0 && body.length < whole.length && whole.startsWith(body)
      }
      yield* demo.waitFor("both answers to stream at once", (screen) => partOf(screen, "poet", poem) && partOf(screen, "critic", critique))
      const screen = yield* demo.waitForText("[exited 0]", 60)
      const lines = screen.split("\n")
      for (const line of lines) assert.isAtMost(line.trimEnd().length, 69, line)
      const shown = blocks(screen.slice(0, screen.indexOf("[exited")))
      assert.deepInclude(shown, { label: "poet", body: poem })
      assert.deepInclude(shown, { label: "critic", body: critique })
      // Every word of the screen's answers belongs to the answer it is under.
      const critic = shown.find((block) => block.label === "critic")
      assert.notInclude(critic?.body ?? "", "Streams")
    }).pipe(Effect.scoped), { timeout: 90_000 })
})

