/**
 * Agents: participants built from the generators.
 *
 * An agent is a **controller** that reads its inbox directly, always: it
 * decides which messages start a run, what happens to a message that arrives
 * while a run is going (queue, steer, interrupt, drop — every disposition is
 * published), routes approval and clarification answers, and stops runs. A
 * **run** is a state machine — `idle` → `inference` → `function-calls` →
 * `inference` … → `idle` — in a `FiberHandle` owned by the agent; every
 * transition is published, every run has an id its events carry, and a run's
 * end reaches the controller as its own `RunEnded` event.
 *
 * The model's answer comes as provider-neutral parts, assembled into items by
 * one core module (`internal/inference/assemble.ts`) that checks their order: a
 * runner that breaks it fails the inference (`malformed_stream`), the run ends
 * `failed`, the agent stays responsive.
 *
 * The context the model sees is rebuilt from the environment's items (the
 * `ItemDone` events the agent received), in the order they reached the agent,
 * except that a queued message enters the context when it is handled and a
 * steered one before the next model call. Other participants' messages reach
 * the model as user messages attributed to their author; other agents'
 * function calls are not shown unless asked for. A message or reasoning cut
 * short by a *failed* inference stays in the transcript as `incomplete` but
 * leaves the context: the model did not choose to stop there (one cut by a
 * stop stays, marked `incomplete`).
 *
 * ## Stop
 * Interrupting a run interrupts its fiber: the inference stream is closed (a
 * provider aborts its HTTP request), running tool fibers are interrupted. Then
 * the controller closes every item left open as `incomplete` with its partial
 * content, gives every function call without an output a synthetic output
 * saying it was cancelled (so the next request is valid), publishes what was
 * cut short, and handles queued input. Leaving the environment mid-run closes
 * the run the same way; stopping with the environment leaves it to resume.
 *
 * ## Approvals
 * A call whose policy requires approval is published as `ApprovalRequested`
 * and waits. Calls are identified by run and call id (providers reuse call
 * ids). The first answer from a participant allowed to approve decides, even
 * one that arrives before the request (it is kept); a second answer, an answer
 * from a participant without the right, for a call that ended without it, or
 * for a call nobody asked is refused visibly. A configurable timeout counts as
 * a rejection. A tool runs only once `FunctionCallStarted` is durable in the
 * journal: if the journal cannot confirm it, the call fails without running.
 *
 * ## Resume
 * Joining replays the journal (option `resume`): the agent folds it with one
 * reducer (`internal/agent/history.ts`), then decides (`internal/agent/resume.ts`)
 * — pending approvals stay pending, approved calls run once, a started call is
 * never re-run, a run cut mid-inference ends as interrupted, unhandled input is
 * queued.
 *
 * ## Shape
 * Decisions are pure and their effects are commands (data) run by a small
 * interpreter in this module: the controller (`internal/agent/controller.ts`:
 * state, `decide(state, input) → [state, commands]`), a run's closing, stop and
 * end (`internal/agent/run.ts`), which messages start a run
 * (`internal/agent/triggers.ts`) and resume (`internal/agent/resume.ts`). The
 * run's inner loop (inference, calls) is still an effect over the run's state.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberHandle,
  HashSet,
  Option,
  Ref,
  Schema,
  Stream
} from "effect"
import { isMessage, present } from "./internal/agent/context.js"
import * as Approvals from "./internal/agent/approvals.js"
import * as Controller from "./internal/agent/controller.js"
import * as Resume from "./internal/agent/resume.js"
import * as Run from "./internal/agent/run.js"
import * as Triggers from "./internal/agent/triggers.js"
import * as Folded from "./internal/agent/folded.js"
import * as History from "./internal/agent/history.js"
import * as CombinedHooks from "./internal/agent/hooks.js"
import * as Assemble from "./internal/inference/assemble.js"
import * as ContextItem from "./ContextItem.js"
import * as Environment from "./Environment.js"
import * as Event from "./Event.js"
import * as FunctionCallRunner from "./FunctionCallRunner.js"
import * as InferenceRunner from "./InferenceRunner.js"
import type * as Journal from "./Journal.js"
import type * as Participant from "./Participant.js"
import * as Tool from "./Tool.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * What starts a run:
 * - `"messages"` (default): every message from a human, and messages addressed to this agent;
 * - `"addressed"`: messages addressed to it (`to` holds its id, or the text mentions `@id`);
 * - `{ from }`: every message (user or model) from the named participants, and messages addressed to it;
 * - a predicate over the finished message and its event.
 */
export type ReactTo =
  | "messages"
  | "addressed"
  | { readonly from: ReadonlyArray<string> }
  | ((message: ContextItem.Message, event: Event.Event, done: Event.ItemDone) => boolean)

/** How the agent sees other participants' items. */
export interface Visibility {
  /** Prefix others' messages with their author (`"alice: ..."`). Default true. */
  readonly attribute?: boolean | undefined
  /** Show other agents' function calls and outputs (as attributed user text). Default false. */
  readonly othersFunctionCalls?: boolean | undefined
  /** Include others' messages at all (`"environment"`, default) or only those that triggered this agent (`"triggers"`). */
  readonly scope?: "environment" | "triggers" | undefined
}

/** What `beforeInference` may do: nothing, rewrite the context or tools, or skip the inference. */
export type BeforeInference =
  | void
  | {
    readonly items?: ReadonlyArray<ContextItem.ContextItem> | undefined
    readonly tools?: ReadonlyArray<Tool.Definition> | undefined
  }
  | { readonly skip: true }

/** What `beforeFunctionCall` may do: nothing, rewrite the arguments, or veto with an output the model sees. */
export type BeforeFunctionCall = void | { readonly arguments: string } | { readonly veto: string }

/** What `afterFunctionCall` may do: nothing, or rewrite the output. */
export type AfterFunctionCall = void | { readonly output: Tool.Result }

/** What `onUserMessage` may do: nothing, or ignore the message (no run starts for it). */
export type OnUserMessage = void | { readonly ignore: true }

/** Hooks at every transition; effects that may observe, rewrite or veto. A failing hook ends the run. */
export interface Hooks {
  readonly onUserMessage?: (message: ContextItem.Message, event: Event.Event) => Effect.Effect<OnUserMessage, unknown>
  readonly beforeInference?: (input: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly tools: ReadonlyArray<Tool.Definition>
  }) => Effect.Effect<BeforeInference, unknown>
  readonly afterInference?: (output: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly usage: Event.Usage
  }) => Effect.Effect<void, unknown>
  readonly beforeFunctionCall?: (call: ContextItem.FunctionCall) => Effect.Effect<BeforeFunctionCall, unknown>
  readonly afterFunctionCall?: (
    call: ContextItem.FunctionCall,
    result: Tool.Result
  ) => Effect.Effect<AfterFunctionCall, unknown>
  readonly onModelMessage?: (message: ContextItem.ModelMessage) => Effect.Effect<void, unknown>
}

/** Approval settings. */
export interface Approval {
  /** Policy per tool name; wins over the agent default and the tool's own. */
  readonly tools?: { readonly [name: string]: Tool.ApprovalPolicy } | undefined
  /** Policy for every tool of this agent, over the tools' own. */
  readonly default?: Tool.ApprovalPolicy | undefined
  /** Who may answer: these participant ids; default any human participant. */
  readonly approvers?: ReadonlyArray<string> | undefined
  /** An unanswered request is rejected after this long. Default: never. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Options of an agent. */
export interface Options {
  readonly id: string
  /** The system prompt (sent first, not published). */
  readonly instructions?: string | undefined
  /** Which tools of the `FunctionCallRunner` this agent offers the model (all when absent). */
  readonly tools?: ((definition: Tool.Definition) => boolean) | undefined
  readonly reactTo?: ReactTo | undefined
  readonly visibility?: Visibility | undefined
  readonly hooks?: Hooks | ReadonlyArray<Hooks> | undefined
  /** Most inferences in one run. Default 10. */
  readonly maxTurns?: number | undefined
  /** Function calls of one turn running at once. Default 4. */
  readonly concurrency?: number | undefined
  /** Most runs in a row triggered by other agents without a human message in between. Default 5. */
  readonly exchangeCap?: number | undefined
  /** What to do with a message that arrives while busy. Default `queue`. */
  readonly busyPolicy?: Event.BusyPolicy | undefined
  readonly approval?: Approval | undefined
  /** Offer the model an `ask_human` tool that pauses the run until a person answers. */
  readonly askHuman?: boolean | undefined
  readonly inference?: InferenceRunner.Options | undefined
  /**
   * Resume from the environment's journal when joining (default true): rebuild the context, keep pending
   * approvals pending, run approved calls once, close runs cut by a restart, re-queue queued input.
   */
  readonly resume?: boolean | undefined
}

/** A hook failed; the run ended and the agent is idle again. */
export class HookError extends Schema.TaggedError<HookError>()("HookError", {
  hook: Schema.String,
  cause: Schema.Defect
}) {
  override get message() {
    return `hook ${this.hook} failed: ${describe(this.cause)}`
  }
}

/** The name of the clarification tool. */
export const askHumanTool = "ask_human"

const askHumanDefinition: Tool.Definition = {
  name: askHumanTool,
  description: "Ask a person a clarifying question and wait for the answer. Use it when you cannot proceed without it.",
  parameters: {
    type: "object",
    properties: { question: { type: "string", description: "The question, in one or two sentences." } },
    required: ["question"],
    additionalProperties: false
  },
  strict: true,
  annotations: { readOnly: true },
  approval: "never"
}

const noTools: FunctionCallRunner.Service = {
  tools: Effect.succeed([]),
  run: ({ call }) =>
    Effect.fail(new FunctionCallRunner.FunctionCallError({ reason: "unknown_tool", name: call.name, detail: "This agent has no tools." }))
}

const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

/**
 * Makes an agent: a participant that needs an `InferenceRunner` (provide it per agent) and
 * the `Environment`; its tools come from a `FunctionCallRunner` when one is provided.
 *
 * @example
 * import { Effect } from "effect"
 * import { Agent, Environment, ScriptedModel } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("Hello!")]] })
 *   // No tools: no FunctionCallRunner needed (provide `Toolkit.make(...).layer` to give it some).
 *   yield* env.join(Agent.make({ id: "assistant", instructions: "Be brief." })).pipe(Effect.provide(model.layer))
 * })
 */
export const make = (
  options: Options
): Participant.Participant<
  Journal.JournalError | Journal.JournalCorrupted,
  Environment.Environment | InferenceRunner.InferenceRunner
> => ({
  id: options.id,
  kind: "agent",
  // The controller needs finished items and control events, never live deltas.
  accepts: (event) => !Event.isDelta(event.payload),
  replay: options.resume ?? true,
  run: (inbox, start) => run(options, inbox, start)
})

const run = (options: Options, inbox: Participant.Inbox, start: Participant.Start) =>
  Effect.gen(function*() {
    const me = options.id
    const env = yield* Environment.Environment
    // The current run, owned by the agent's scope.
    const runs = yield* FiberHandle.make<void>()
    const inference = yield* InferenceRunner.InferenceRunner
    // An agent without tools needs no runner.
    const functions = Option.getOrElse(yield* Effect.serviceOption(FunctionCallRunner.FunctionCallRunner), () => noTools)
    const maxTurns = options.maxTurns ?? 10
    const concurrency = options.concurrency ?? 4
    const exchangeCap = options.exchangeCap ?? 5
    const approvalTimeout = options.approval?.timeout === undefined ? undefined : Duration.decode(options.approval.timeout)

    // The agent's history: every event it receives, live and replayed, folded by the one reducer resume uses.
    const historyReducer = History.reducer(me, (options.visibility?.scope ?? "environment") === "environment")
    const folded = yield* Ref.make(Folded.initial(historyReducer.initial))
    // The last event this agent published that it also receives: a run waits until its history has folded it.
    const published = yield* Ref.make(-1)
    const publish = (payload: Event.Payload) =>
      Effect.tap(env.publish(me, payload), (event) => Ref.update(published, (last) => Math.max(last, event.sequence)))

    // --- the controller's state (owned by the controller fiber) -------------------------------
    // The controller's decisions are data (`internal/agent/controller.ts`); `current` is the run's handle.
    const controller = yield* Ref.make(Controller.initial)
    const settings: Controller.Settings = { me, exchangeCap }
    let current: { readonly state: Run.RunState; readonly fiber: Fiber.RuntimeFiber<void> } | undefined = undefined

    const kindOfMember = (id: string) =>
      Effect.map(env.members, (members) => members.find((member) => member.id === id)?.kind)
    const kindOf = kindOfMember

    const triggers = (item: ContextItem.Message, event: Event.Event, done: Event.ItemDone) =>
      Effect.suspend(() => {
        const reaction = Triggers.reaction(me, options.reactTo ?? "messages", item, event, done)
        return reaction === "unless-agent"
          ? Effect.map(kindOf(item.author), (kind) => kind !== "agent")
          : Effect.succeed(reaction)
      })

    // --- context ---------------------------------------------------------------------------------
    // The context is the fold of what the agent has seen, once it has seen what it published itself
    // (the same fold resume computes from the journal), without input deferred to a later run or turn.
    const context = Effect.gen(function*() {
      yield* Folded.await(folded, yield* Ref.get(published))
      const { history } = yield* Ref.get(folded)
      const { deferred } = yield* Ref.get(controller)
      const items: Array<ContextItem.ContextItem> = []
      if (options.instructions !== undefined) {
        items.push(ContextItem.systemText({ id: `${me}_instructions`, author: me, text: options.instructions }))
      }
      for (const item of History.context({ ...history, hidden: HashSet.union(history.hidden, deferred) })) {
        const shown = present(me, item, options.visibility)
        if (shown !== undefined) items.push(shown)
      }
      return items
    })

    const toolDefinitions = Effect.map(functions.tools, (definitions) => {
      const offered = options.tools === undefined ? [...definitions] : definitions.filter(options.tools)
      return options.askHuman === true ? [...offered, askHumanDefinition] : offered
    })

    const approvalPolicy = (definition: Tool.Definition | undefined, name: string): Tool.ApprovalPolicy =>
      options.approval?.tools?.[name] ?? options.approval?.default ?? definition?.approval ?? "never"

    const mayApprove = (by: string) =>
      options.approval?.approvers !== undefined
        ? Effect.succeed(options.approval.approvers.includes(by))
        : Effect.map(kindOf(by), (kind) => kind === "human")

    const approvals = yield* Approvals.make({
      me,
      publish,
      mayApprove,
      // One agent refuses answers for calls nobody asked: the first agent by id.
      refusesUnknown: Effect.map(env.members, (members) =>
        members.filter((member) => member.kind === "agent").map((member) => member.id).sort()[0] === me),
      timeout: approvalTimeout,
      current: () => current?.state
    })

    // --- one run -----------------------------------------------------------------------------------
    // A runner that dies (a bug in a custom one) gives the model an error output, not a failed run.
    const runTool = (request: FunctionCallRunner.Request) =>
      Effect.suspend(() => functions.run(request)).pipe(
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            new FunctionCallRunner.FunctionCallError({
              reason: "crashed",
              name: request.call.name,
              detail: `the tool crashed: ${describe(defect)}`,
              cause: defect
            })
          )
        )
      )

    const runHook = <A>(name: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, HookError> =>
      Effect.catchAllCause(effect, (cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.fail(new HookError({ hook: name, cause: Cause.squash(cause) })))
    const hooks = CombinedHooks.combine(options.hooks, runHook)

    const setState = (state: Run.RunState, to: Event.AgentState) =>
      Effect.suspend(() => {
        const from = state.state
        if (from === to) return Effect.void
        state.state = to
        return publish(new Event.StateChanged({ participant: me, runId: state.runId, from, to }))
      })

    const finishItem = (state: Run.RunState, item: ContextItem.ContextItem) =>
      publish(new Event.ItemDone({ item, runId: state.runId, to: [], policy: null }))

    /** Runs a command that publishes (what a run's own decisions issue). */
    const emit = (command: Controller.Command) =>
      command._tag === "Publish"
        ? Effect.asVoid(publish(command.payload))
        : Effect.dieMessage(`a run's decision cannot ${command._tag}`)

    const publishOutput = (state: Run.RunState, call: ContextItem.FunctionCall, result: Tool.Result) =>
      Effect.suspend(() => {
        const item = Run.output(me, call, result)
        state.answered.add(call.callId)
        state.outputs.set(call.callId, item)
        return Effect.as(Effect.forEach(Run.publishOutput(state.runId, item), emit, { discard: true }), item)
      })

    const inferOnce = (state: Run.RunState, turn: number) =>
      Effect.gen(function*() {
        const prepared = yield* hooks.beforeInference({ runId: state.runId, turn, items: yield* context, tools: yield* toolDefinitions })
        if (prepared.skip) return { skipped: true as const, produced: [], calls: [] }
        const { items, tools } = prepared
        const inferenceId = `${state.runId}_inf_${turn}`
        state.inferenceId = inferenceId
        yield* setState(state, "inference")
        yield* publish(new Event.InferenceStarted({ runId: state.runId, inferenceId, model: inference.model }))
        const produced: Array<ContextItem.ContextItem> = []
        const calls: Array<ContextItem.FunctionCall> = []
        let usage = Event.Usage.zero
        let incompleteReason: string | null = null
        const request: InferenceRunner.Request = {
          agent: me,
          runId: state.runId,
          items,
          tools,
          options: options.inference ?? {}
        }
        state.assembly = Assemble.empty(me, state.runId)
        const assembly = state.assembly
        const finishProduced = (item: ContextItem.ContextItem) => {
          produced.push(item)
          if (item._tag === "FunctionCall") {
            state.calls.set(item.callId, item)
            calls.push(item)
          }
          return finishItem(state, item)
        }
        // Each chunk of parts is applied and published atomically: a stop sees the assembly exactly as published.
        const onChunk = (chunk: Chunk.Chunk<InferenceRunner.Part>) =>
          Effect.uninterruptible(Effect.suspend(() => {
            const { error, publish: out } = Assemble.stepAll(assembly, chunk)
            const run: Array<Event.Payload> = []
            const effects: Array<Effect.Effect<unknown>> = []
            for (const payload of out) {
              if (payload._tag === "ItemDone") {
                if (run.length > 0) effects.push(env.publishAll(me, run.splice(0)))
                effects.push(finishProduced(payload.item))
              } else run.push(payload)
            }
            if (run.length > 0) effects.push(env.publishAll(me, run))
            const published = effects.length === 1 ? effects[0]! : Effect.forEach(effects, (effect) => effect, { discard: true })
            return error === null ? Effect.asVoid(published) : Effect.zipRight(published, Effect.fail(error))
          }))
        const streamed = yield* inference.stream(request).pipe(
          Stream.runForEachChunk(onChunk),
          Effect.zipRight(Effect.suspend(() => {
            const ended = Assemble.end(state.assembly)
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
            attributes: {
              "gen_ai.operation.name": "chat",
              "gen_ai.request.model": inference.model,
              "gen_ai.agent.name": me
            }
          })
        )
        if (streamed._tag === "Left") {
          const error = streamed.left
          yield* publish(new Event.InferenceFailed({ runId: state.runId, inferenceId, error: error.message, reason: error.reason }))
          state.inferenceId = null
          return yield* Effect.fail(error)
        }
        yield* publish(new Event.InferenceCompleted({ runId: state.runId, inferenceId, usage, incompleteReason }))
        state.inferenceId = null
        yield* hooks.afterInference({ runId: state.runId, turn, items: produced, usage })
        return { skipped: false as const, produced, calls }
      })

    const askHuman = (state: Run.RunState, call: ContextItem.FunctionCall) =>
      Effect.gen(function*() {
        let question: string
        try {
          const parsed = JSON.parse(call.arguments) as unknown
          if (typeof parsed !== "object" || parsed === null || typeof (parsed as { question?: unknown }).question !== "string") {
            throw new Error("expected {\"question\": string}")
          }
          question = (parsed as { question: string }).question
        } catch (error) {
          return { output: `Invalid arguments for tool "${askHumanTool}": ${describe(error)}`, isError: true } satisfies Tool.Result
        }
        const answer = yield* approvals.clarify(state.runId, call.callId, question)
        return { output: answer, isError: false } satisfies Tool.Result
      })

    const callOnce = (
      state: Run.RunState,
      original: ContextItem.FunctionCall,
      definitions: ReadonlyArray<Tool.Definition>,
      stage: Run.Stage
    ) =>
      Effect.gen(function*() {
        if (stage === "new") {
          yield* publish(new Event.FunctionCallRequested({
            runId: state.runId,
            callId: original.callId,
            name: original.name,
            arguments: original.arguments
          }))
        }
        let call = original
        if (stage === "new" || stage === "requested") {
          const decision = yield* hooks.beforeFunctionCall(call)
          if ("veto" in decision) {
            yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: `vetoed: ${decision.veto}` }))
            return { call, result: { output: decision.veto, isError: true } satisfies Tool.Result }
          }
          call = decision.call
        }
        const definition = definitions.find((definition) => definition.name === call.name)
        const needsApproval = stage === "awaiting_approval" ||
          (stage !== "approved" && call.name !== askHumanTool &&
            Tool.needsApproval(approvalPolicy(definition, call.name), call.arguments))
        if (needsApproval) {
          yield* setState(state, "awaiting_approval")
          const decision = yield* approvals.await(state.runId, call, stage !== "awaiting_approval")
          if (!decision.approved) {
            yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: `rejected: ${decision.reason}` }))
            return {
              call,
              result: {
                output: `The call was rejected by ${decision.by}: ${decision.reason}. Do not retry it unchanged.`,
                isError: true
              } satisfies Tool.Result
            }
          }
          yield* setState(state, "function_calls")
        }
        yield* publish(new Event.FunctionCallStarted({ callId: call.callId, name: call.name }))
        // At most once: the side effect starts only after its start is durable.
        const durable = yield* Effect.either(env.flush)
        if (Either.isLeft(durable)) {
          const error = `The call was not run: the journal could not record its start (${durable.left.message}), ` +
            "so running it could not be guaranteed to happen only once."
          yield* publish(new Event.FunctionCallFailed({ callId: call.callId, error }))
          return { call, result: { output: error, isError: true } satisfies Tool.Result }
        }
        const outcome = call.name === askHumanTool && options.askHuman === true
          ? yield* Effect.either(askHuman(state, call))
          : yield* Effect.either(runTool({
            call,
            progress: (progress) =>
              Effect.asVoid(publish(new Event.FunctionCallProgress({
                callId: call.callId,
                progress: progress.progress,
                total: progress.total ?? null,
                message: progress.message ?? null
              })))
          })).pipe(
            Effect.withSpan(`execute_tool ${call.name}`, {
              attributes: {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.name,
                "gen_ai.tool.call.id": call.callId,
                "gen_ai.agent.name": me
              }
            })
          )
        let result: Tool.Result
        if (outcome._tag === "Left") {
          yield* publish(new Event.FunctionCallFailed({ callId: call.callId, error: outcome.left.message }))
          result = { output: outcome.left.message, isError: true }
        } else {
          result = outcome.right
        }
        result = yield* hooks.afterFunctionCall(call, result)
        if (outcome._tag === "Right") {
          yield* publish(new Event.FunctionCallCompleted({ callId: call.callId, isError: result.isError }))
        }
        return { call, result }
      })

    const runFunctionCalls = (state: Run.RunState, calls: ReadonlyArray<readonly [ContextItem.FunctionCall, Run.Stage]>) =>
      Effect.gen(function*() {
        yield* setState(state, "function_calls")
        const definitions = yield* toolDefinitions
        yield* Effect.forEach(
          calls,
          ([call, stage]) =>
            Effect.flatMap(callOnce(state, call, definitions, stage), ({ call, result }) =>
              // Each output is published as it finishes...
              publishOutput(state, call, result)),
          { concurrency, discard: true }
        )
      })

    const takeSteered = (state: Run.RunState) =>
      Effect.flatMap(Ref.modify(controller, Controller.takeSteered), (steered) =>
        Effect.forEach(steered, (next) =>
          publish(new Event.InputSteered({ participant: me, itemId: next.item.id, runId: state.runId })), { discard: true }))

    const runLoop = (state: Run.RunState, resume?: Run.Resume) =>
      Effect.gen(function*() {
        let first = 1
        if (resume !== undefined) {
          // A run cut by a restart while its calls waited: finish them, then go on.
          yield* runFunctionCalls(state, resume.calls)
          first = resume.turn + 1
        }
        for (let turn = first; turn <= maxTurns; turn++) {
          if (turn > 1) yield* takeSteered(state)
          const outcome = yield* inferOnce(state, turn)
          if (outcome.skipped) return { outcome: "skipped" as const, detail: "beforeInference skipped the inference" }
          if (outcome.calls.length === 0) return { outcome: "completed" as const, detail: null }
          yield* runFunctionCalls(state, outcome.calls.map((call) => [call, "new"] as const))
        }
        return { outcome: "turn_limit" as const, detail: `stopped after ${maxTurns} inferences` }
      }).pipe(
        Effect.withSpan(`invoke_agent ${me}`, {
          attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": me, "chorus.run.id": state.runId }
        })
      )

    const runEffect = (state: Run.RunState, resume?: Run.Resume) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(runLoop(state, resume))
        yield* Effect.uninterruptible(endRun(state, exit))
      })

    const endRun = (state: Run.RunState, exit: Exit.Exit<{ readonly outcome: Event.RunOutcome; readonly detail: string | null }, unknown>) =>
      Effect.gen(function*() {
        // An interruption is a stop: the controller decides it (`Run.stop`).
        if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return
        state.ended = true
        let ending: Run.Ending
        if (Exit.isSuccess(exit)) {
          ending = { _tag: "Finished", outcome: exit.value.outcome, detail: exit.value.detail }
        } else {
          const failure = Cause.failureOption(exit.cause)
          ending = {
            _tag: "Failed",
            detail: Option.isSome(failure) ? describe(failure.value) : Cause.pretty(exit.cause),
            hook: Option.isSome(failure) && failure.value instanceof HookError
              ? { hook: failure.value.hook, error: failure.value.message }
              : null
          }
        }
        const ended = Run.end(me, state, ending._tag === "Failed" ? Assemble.cut(state.assembly).items : [], ending)
        if (ended.closing !== null) applyClosing(state, ended.closing)
        state.state = "idle"
        // Pending approvals and questions of the run are gone before its end is published.
        if (ended.closing !== null) yield* approvals.dropRun(state.runId)
        yield* Effect.forEach(ended.commands, emit, { discard: true })
      })

    /** The bookkeeping of a closing: cut calls join the run's calls, cancelled outputs answer them. */
    const applyClosing = (state: Run.RunState, closing: Run.Closing) => {
      for (const call of closing.cutCalls) state.calls.set(call.callId, call)
      for (const item of closing.outputs) {
        state.answered.add(item.callId)
        state.outputs.set(item.callId, item)
      }
    }

    const stopRun = (reason: string) =>
      Effect.gen(function*() {
        const running = current
        if (running === undefined) return
        current = undefined
        yield* Fiber.interrupt(running.fiber)
        // The fiber is gone: what is left open is data, and closing it a decision.
        const state = running.state
        const stopping = Run.stop(me, state, state.ended ? [] : Assemble.cut(state.assembly).items, reason)
        if (stopping.closing !== null) {
          applyClosing(state, stopping.closing)
          state.state = "idle"
        }
        // Pending approvals and questions of the run are gone before its end is published.
        if (stopping.closing !== null) yield* approvals.dropRun(state.runId)
        yield* Effect.forEach(stopping.commands, emit, { discard: true })
      })

    /** Runs the controller's commands, in order. */
    const interpret = (command: Controller.Command) => {
      switch (command._tag) {
        case "Publish":
          return emit(command)
        case "StartRun":
          return Effect.gen(function*() {
            const state = Run.make(me, command.runId)
            const fiber = yield* FiberHandle.run(runs, runEffect(state))
            current = { state, fiber }
          })
        case "StopRun":
          return stopRun(command.reason)
      }
    }

    /** One decision of the controller: a pure transition, then its commands. */
    const handle = (input: Controller.Input) =>
      Effect.flatMap(
        Ref.modify(controller, (state) => {
          const [next, commands] = Controller.decide(settings, state, input)
          return [commands, next] as const
        }),
        (commands) => Effect.forEach(commands, interpret, { discard: true })
      )

    const startNext = handle(Controller.Input.Next())

    const onMessage = (event: Event.Event, done: Event.ItemDone, item: ContextItem.Message) =>
      Effect.gen(function*() {
        if (!(yield* triggers(item, event, done))) return
        const hooked = yield* Effect.either(hooks.onUserMessage(item, event))
        if (hooked._tag === "Left") {
          yield* publish(new Event.HookFailed({ participant: me, runId: null, hook: "onUserMessage", error: hooked.left.message }))
          return
        }
        if (!hooked.right) return
        const fromAgent = (yield* kindOf(item.author)) === "agent"
        const policy = done.policy ?? options.busyPolicy ?? "queue"
        return yield* handle(Controller.Input.Trigger({ entry: { item, event }, fromAgent, policy }))
      })

    const onEvent = (event: Event.Event) =>
      Effect.gen(function*() {
        const payload = event.payload
        switch (payload._tag) {
          case "ItemDone": {
            if (event.author === me) return
            const item = payload.item
            if (isMessage(item)) return yield* onMessage(event, payload, item)
            return
          }
          case "RunEnded":
            // The current run has ended (its fiber published it): the next input may start.
            if (event.author !== me) return
            return yield* handle(Controller.Input.RunEnded({ runId: payload.runId }))
          case "InterruptRequested":
            if (payload.participant !== me) return
            return yield* handle(Controller.Input.Interrupt({ runId: payload.runId, by: event.author }))
          case "FunctionCallRequested":
            return yield* approvals.onRequested(event, payload)
          case "ApprovalAnswered":
            return yield* approvals.onAnswer(event, payload)
          case "ClarificationAnswered":
            return yield* approvals.onClarification(payload)
          default:
            return
        }
      })

    // --- resume after a restart --------------------------------------------------------------------

    const restore = (history: History.History) =>
      Effect.gen(function*() {
        // Resume is the fold of the journal, then a decision on what it says (`internal/agent/resume.ts`).
        const plan = Resume.plan(me, options.reactTo ?? "messages", history)
        // This agent's calls that were answered: a later answer is refused as a second one.
        yield* approvals.restore(history.commands)
        yield* Ref.update(controller, (state) => Controller.restored(state, plan.queued, null))
        const cut = plan.cut
        if (cut === null) return
        const { run, resumable } = cut
        for (const output of cut.outputs) {
          run.answered.add(output.callId)
          run.outputs.set(output.callId, output)
        }
        yield* Effect.forEach(cut.commands, emit, { discard: true })
        if (cut.next === "continue") {
          // Answers may arrive before the resumed run reaches its calls: register the waits now.
          for (const [call, stage] of resumable) {
            if (stage === "awaiting_approval") yield* approvals.registerResumed(run.runId, call.callId)
          }
          yield* publish(new Event.RunStarted({ participant: me, runId: run.runId, trigger: null }))
          const fiber = yield* FiberHandle.run(runs, runEffect(run, { turn: cut.turn, calls: resumable }))
          current = { state: run, fiber }
          yield* Ref.update(controller, (state) => Controller.restored(state, [], run.runId))
          return
        }
        // Cut mid-inference: it ends as interrupted, its partial output kept as incomplete.
        const stopping = Run.stop(me, run, Assemble.cut(run.assembly).items, "interrupted by a restart")
        if (stopping.closing !== null) applyClosing(run, stopping.closing)
        yield* approvals.dropRun(run.runId)
        yield* Effect.forEach(stopping.commands, emit, { discard: true })
      })

    // Every event is folded first, replayed or live: the journal is folded as it is replayed, and live
    // events continue the same fold.
    const caughtUp = (event: Event.Event) =>
      Effect.gen(function*() {
        const history = yield* Folded.fold(folded, historyReducer, event)
        if (event.sequence > start.history) return true
        if (event.sequence === start.history) {
          yield* restore(history)
          yield* startNext
        }
        return false
      })

    if (start.history < 0) yield* startNext

    // The controller reads its inbox directly; its runs report back through the events they publish.
    // A history that cannot be read fails the agent visibly; it never looks like it left.
    yield* Stream.runForEach(inbox, (event) =>
      Effect.flatMap(caughtUp(event), (live) => live ? onEvent(event) : Effect.void)).pipe(
      // Leaving mid-run closes the run like a stop; when the environment closes, the run stays open to resume.
      Effect.onInterrupt(() =>
        Effect.flatMap(start.leaving ?? Effect.succeed(false), (leaving) =>
          leaving ? stopRun("the agent left the environment") : current === undefined ? Effect.void : Fiber.interrupt(current.fiber))
      ),
      Effect.catchAllCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.failCause(cause))
    )
  }).pipe(Effect.scoped)
