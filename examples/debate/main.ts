/**
 * Two agents debate, a judge closes; type a line at any moment to interject.
 *
 * Run: pnpm debate [topic]      (OpenAI when OPENAI_API_KEY is set, otherwise scripted)
 */
import { NodeRuntime } from "@effect/platform-node"
import { createInterface } from "node:readline"
import { Effect, Layer } from "effect"
import { ContextItem, Environment, Human, Participant } from "@chorus/core"
import { OpenAiResponses } from "@chorus/providers"
import * as Debate from "./debate.js"

const topic = process.argv[2] ?? "Remote work is better than office work"
const colors: Record<string, string> = { pro: "\x1b[32m", con: "\x1b[31m", judge: "\x1b[33m" }

const program = Effect.gen(function*() {
  const env = yield* Environment.Environment
  const useOpenAi = process.env.OPENAI_API_KEY !== undefined && process.env.OPENAI_API_KEY !== ""
  const models = useOpenAi
    ? (() => {
      const layer = OpenAiResponses.layerConfig({ model: process.env.OPENAI_MODEL ?? "gpt-4.1-mini" }).pipe(Layer.orDie)
      return { pro: layer, con: layer, judge: layer }
    })()
    : yield* Debate.scriptedModels("40 millis")
  process.stdout.write(useOpenAi
    ? `Debate on "${topic}" with OpenAI (${process.env.OPENAI_MODEL ?? "gpt-4.1-mini"}). Type a line to interject.\n`
    : `Debate on "${topic}" with a scripted model (set OPENAI_API_KEY to use OpenAI). Type a line to interject.\n`)
  yield* env.join(Participant.observer("terminal", (event) =>
    Effect.sync(() => {
      const payload = event.payload
      if (payload._tag === "ItemAdded" && payload.item._tag === "ModelMessage") {
        process.stdout.write(`\n${colors[event.author] ?? ""}${event.author}\x1b[0m: `)
      } else if (payload._tag === "TextDelta") {
        process.stdout.write(payload.delta)
      } else if (payload._tag === "ItemDone" && payload.item._tag === "UserMessage") {
        process.stdout.write(`\n\x1b[36m${event.author} interjects\x1b[0m: ${ContextItem.text(payload.item)}`)
      }
    })))
  const verdict = yield* Debate.start({ topic, exchanges: 3, models })
  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    if (line.trim() !== "") Effect.runFork(Human.say("audience", line.trim()).pipe(Effect.provideService(Environment.Environment, env)))
  })
  yield* Human.say("moderator", `The motion: ${topic}. Pro, you open.`, { to: [Debate.pro] })
  yield* verdict
  lines.close()
  process.stdout.write("\n")

}).pipe(Effect.provide(Environment.layerMemory()))

NodeRuntime.runMain(program)
