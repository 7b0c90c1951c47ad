/**
 * One inference of a run: the `beforeInference` hook on the folded context, the model's parts
 * assembled into items (`internal/inference/assemble.ts`) and published as they come, the
 * `afterInference` hooks, then its end. The controller decides what follows from the events
 * (`steps.ts`).
 *
 * Each chunk of parts is applied to the assembly and published in one uninterruptible region
 * (one `publishAll` per run of non-final events): a stop sees the assembly exactly as published,
 * and chunked publishing keeps stream throughput (a per-delta region cost 2.6×).
 *
 * @internal
 */
import { Chunk, Effect, Either, Ref, Stream } from "effect"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as InferenceRunner from "../../InferenceRunner.js"
import * as Assemble from "../inference/assemble.js"
import * as Run from "./run.js"
import * as Runtime from "./runtime.js"

/** What an inference produced: skipped by a hook, or its items and the calls among them. */
export type Outcome =
  | { readonly _tag: "Skipped" }
  | {
    readonly _tag: "Inferred"
    readonly produced: ReadonlyArray<ContextItem.ContextItem>
    readonly calls: ReadonlyArray<ContextItem.FunctionCall>
  }

/** Runs inference `turn` of the run. */
export const infer = (rt: Runtime.Runtime, run: Run.Current, turn: number) =>
  Effect.gen(function*() {
    const { me, env, inference } = rt
    const prepared = yield* rt.hooks.beforeInference({
      runId: run.runId,
      turn,
      items: yield* Runtime.context(rt),
      tools: yield* Runtime.toolDefinitions(rt)
    })
    if (prepared.skip) return { _tag: "Skipped" } as Outcome
    const inferenceId = `${run.runId}_inf_${turn}`
    yield* Ref.update(run.state, Run.withInference(inferenceId))
    yield* Runtime.setState(rt, run, "inference")
    yield* Runtime.publish(rt, new Event.InferenceStarted({ runId: run.runId, inferenceId, model: inference.model }))
    const produced: Array<ContextItem.ContextItem> = []
    const calls: Array<ContextItem.FunctionCall> = []
    let usage = Event.Usage.zero
    let incompleteReason: string | null = null
    const request: InferenceRunner.Request = {
      agent: me,
      runId: run.runId,
      items: prepared.items,
      tools: prepared.tools,
      options: rt.options.inference ?? {}
    }
    const assembly = Assemble.empty(me, run.runId)
    yield* Ref.update(run.state, Run.withAssembly(assembly))
    const done = (item: ContextItem.ContextItem) => Runtime.publish(rt, new Event.ItemDone({ item, runId: run.runId, to: [], policy: null }))
    const finish = (item: ContextItem.ContextItem) => {
      produced.push(item)
      if (item._tag !== "FunctionCall") return done(item)
      calls.push(item)
      return Effect.zipRight(Ref.update(run.state, Run.withCall(item)), done(item))
    }
    const onChunk = (chunk: Chunk.Chunk<InferenceRunner.Part>) =>
      run.applying.withPermits(1)(Effect.uninterruptible(Effect.flatMap(Ref.get(run.state), ({ frozen }) => {
        // Stopped: the assembly is final, what comes after is dropped.
        if (frozen) return Effect.interrupt
        const { error, publish: out } = Assemble.stepAll(assembly, chunk)
        const pending: Array<Event.Payload> = []
        const effects: Array<Effect.Effect<unknown>> = []
        for (const payload of out) {
          if (payload._tag === "ItemDone") {
            if (pending.length > 0) effects.push(env.publishAll(me, pending.splice(0)))
            effects.push(finish(payload.item))
          } else pending.push(payload)
        }
        if (pending.length > 0) effects.push(env.publishAll(me, pending))
        const published = effects.length === 1 ? effects[0]! : Effect.forEach(effects, (effect) => effect, { discard: true })
        return error === null ? Effect.asVoid(published) : Effect.zipRight(published, Effect.fail(error))
      })))
    const streamed = yield* inference.stream(request).pipe(
      Stream.runForEachChunk(onChunk),
      Effect.zipRight(Effect.suspend(() => {
        const ended = Assemble.end(assembly)
        if (Either.isLeft(ended)) return Effect.fail(ended.left)
        usage = ended.right.finished?.usage ?? Event.Usage.zero
        incompleteReason = ended.right.finished?.incompleteReason ?? null
        return Effect.void
      })),
      Effect.either,
      Effect.tap(() =>
        Effect.suspend(() =>
          Effect.annotateCurrentSpan({
            "gen_ai.usage.input_tokens": usage.inputTokens,
            "gen_ai.usage.output_tokens": usage.outputTokens
          })
        )
      ),
      Effect.withSpan(`chat ${inference.model}`, {
        attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": inference.model, "gen_ai.agent.name": me }
      })
    )
    if (streamed._tag === "Left") {
      const error = streamed.left
      yield* Runtime.publish(rt, new Event.InferenceFailed({ runId: run.runId, inferenceId, error: error.message, reason: error.reason }))
      yield* Ref.update(run.state, Run.withInference(null))
      return yield* Effect.fail(error)
    }
    // The inference ends after its hooks: its `InferenceCompleted` is what moves the run on. A hook
    // that fails is published first, so the run fails at the end of this inference.
    const after = yield* Effect.either(rt.hooks.afterInference({ runId: run.runId, turn, items: produced, usage }))
    if (Either.isLeft(after)) {
      yield* Runtime.publish(
        rt,
        new Event.HookFailed({ participant: me, runId: run.runId, hook: after.left.hook, error: after.left.message })
      )
    }
    yield* Runtime.publish(rt, new Event.InferenceCompleted({ runId: run.runId, inferenceId, usage, incompleteReason }))
    yield* Ref.update(run.state, Run.withInference(null))
    return { _tag: "Inferred", produced, calls } as Outcome
  })
