import { Effect, Fiber, Queue, Ref, Schema, TestClock } from "effect"
import type { Layer } from "effect"
import { Agent, Environment, Event, FunctionCallRunner, Human, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"

/** Joins an agent with its own scripted model and toolkit; returns the model (for its requests). */
export const joinAgent = (
  options: Agent.Options,
  script: ScriptedModel.Options,
  tools: Layer.Layer<FunctionCallRunner.FunctionCallRunner> = Toolkit.empty.layer
) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const model = yield* ScriptedModel.make(script)
    yield* env.join(Agent.make(options)).pipe(Effect.provide(model.layer), Effect.provide(tools))
    return model
  })

/** Joins a human fed by a queue; returns the queue. */
export const joinHuman = (id: string) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const input = yield* Queue.unbounded<InputStream.Input>()
    yield* env.join(Human.make({ id })).pipe(Effect.provide(InputStream.layerQueue(input)))
    return input
  })

/** All events so far. */
export const events = Effect.gen(function*() {
  const env = yield* Environment.Environment
  yield* Effect.yieldNow()
  return yield* env.snapshot({ initial: [] as Array<Event.Event>, reduce: (all, event) => (all.push(event), all) })
})

/** The payloads of the given tags, in order. */
export const payloads = <T extends Event.Payload["_tag"]>(all: ReadonlyArray<Event.Event>, tag: T) =>
  all.map((event) => event.payload).filter((payload): payload is Extract<Event.Payload, { _tag: T }> => payload._tag === tag)

/** Waits for the n-th run of an agent to end. */
export const runEnded = (participant: string, count = 1) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    let seen = 0
    return yield* env.waitFor((event): event is Event.Event =>
      event.payload._tag === "RunEnded" && event.payload.participant === participant && ++seen === count)
  })

/** Waits for the n-th run of an agent to end, advancing the TestClock a second at a time meanwhile. */
export const runEndedAdvancing = (participant: string, count = 1) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(runEnded(participant, count))
    for (let i = 0; i < 3_600; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow()
    }
    return yield* Fiber.join(fiber)
  })

/** A tool that always needs approval and records each target it deploys. */
export const deployTool = (runs: Ref.Ref<ReadonlyArray<string>>) =>
  Tool.make("deploy", {
    description: "Deploys",
    parameters: Schema.Struct({ target: Schema.String }),
    approval: "always",
    handler: ({ target }) => Effect.as(Ref.update(runs, (all) => [...all, target]), `deployed ${target}`)
  })
