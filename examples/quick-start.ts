import { Effect } from "effect"
import { Agent, Environment, Human, ScriptedModel, Terminal } from "@chorus/core"

const program = Effect.gen(function*() {
  const env = yield* Environment.Environment
  // A terminal shows everything that happens in the environment, as it happens.
  const terminal = yield* Terminal.make()
  yield* env.join(terminal.renderer)

  // An agent on a scripted model that streams a word every 50 ms (OpenAiResponses.layerConfig for a real one).
  const model = yield* ScriptedModel.make({
    turns: [
      [ScriptedModel.text("Effect is a TypeScript library for programs that are typed, concurrent and safe with resources: errors in the types, fibers instead of promises, layers for services, streams, schedules, and a test clock.")],
      [ScriptedModel.text("A fiber is a lightweight thread: you can fork it, join it and interrupt it.")]
    ],
    latency: "50 millis"
  })
  yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(model.layer))

  // The answer streams...
  yield* Human.say("you", "What is Effect?")
  yield* env.waitFor((event) => event.payload._tag === "TextDelta")
  // ...a message sent while the agent is busy waits in its queue...
  yield* Human.say("you", "And what is a fiber?")
  // ...and stopping the run keeps the partial answer; then the queued message is answered.
  yield* Effect.sleep("500 millis")
  yield* env.interrupt({ participant: "assistant", by: "you" })
  yield* env.waitFor((event) => event.payload._tag === "RunEnded" && event.payload.outcome === "completed")
  yield* terminal.close
}).pipe(Effect.provide(Environment.layerMemory()))

Effect.runPromise(program)
