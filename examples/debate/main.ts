/**
 * Two agents debate, a judge closes; type a line at any moment to interject.
 *
 * Run: pnpm debate [topic]      (OpenAI when OPENAI_API_KEY is set, otherwise scripted)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Environment, Human, Terminal } from "@chorus/core"
import { OpenAiResponses } from "@chorus/providers"
import * as Debate from "./debate.js"

const topic = process.argv[2] ?? "Remote work is better than office work"
const audience = "audience"

const program = Effect.gen(function*() {
  const env = yield* Environment.Environment
  const model = process.env.OPENAI_MODEL ?? "gpt-4.1-mini"
  const useOpenAi = process.env.OPENAI_API_KEY !== undefined && process.env.OPENAI_API_KEY !== ""
  const models = useOpenAi
    ? (() => {
      const layer = OpenAiResponses.layerConfig({ model }).pipe(Layer.orDie)
      return { pro: layer, con: layer, judge: layer }
    })()
    : yield* Debate.scriptedModels(topic, "40 millis")

  const terminal = yield* Terminal.make({ human: audience })
  yield* terminal.print(`Debate on "${topic}" with ${useOpenAi ? `OpenAI (${model})` : "a scripted model (set OPENAI_API_KEY to use OpenAI)"}.`, "bold")
  yield* terminal.print("Type a line at any moment to interject; Ctrl-C stops whoever is speaking, twice quits.", "dim")
  yield* env.join(terminal.renderer)
  const verdict = yield* Debate.start({ topic, exchanges: 3, models })
  yield* env.join(Human.make({ id: audience })).pipe(Effect.provide(terminal.layer))
  yield* terminal.keyboard
  yield* Human.say("moderator", `The motion: ${topic}. Pro, you open.`, { to: [Debate.pro] })
  // The debate ends with the verdict; a person at a terminal may leave before it.
  yield* process.stdin.isTTY ? Effect.raceFirst(Effect.asVoid(verdict), terminal.done) : verdict
  yield* terminal.close
}).pipe(Effect.scoped, Effect.provide(Environment.layerMemory()))

NodeRuntime.runMain(program)
