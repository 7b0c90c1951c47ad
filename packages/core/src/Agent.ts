/**
 * Agents: participants built from the generators.
 *
 * An agent is two fibers. Its **controller** reads the inbox, always: it
 * decides which messages start a run, what happens to a message that arrives
 * while a run is going (queue, steer, interrupt, drop — every disposition is
 * published), routes approval and clarification answers, and stops runs. A
 * **run** is a state machine — `idle` → `inference` → `function-calls` →
 * `inference` … → `idle` — forked by the controller; every transition is
 * published and every run has an id its events carry.
 *
 * The context the model sees is rebuilt from the environment's items (the
 * `ItemDone` events the agent received), in the order they reached the agent,
 * except that a queued message enters the context when it is handled and a
 * steered one before the next model call. Other participants' messages reach
 * the model as user messages attributed to their author; other agents'
 * function calls are not shown unless asked for.
 *
 * ## Stop
 * Interrupting a run interrupts its fiber: the inference stream is closed (a
 * provider aborts its HTTP request), running tool fibers are interrupted. Then
 * the controller closes every item left open as `incomplete` with its partial
 * content, gives every function call without an output a synthetic output
 * saying it was cancelled (so the next request is valid), publishes what was
 * cut short, and handles queued input.
 *
 * ## Approvals
 * A call whose policy requires approval is published as `ApprovalRequested`
 * and waits. The first answer from a participant allowed to approve decides;
 * a second answer, an answer from a participant without the right, or for a
 * call this agent does not know is refused visibly. A configurable timeout
 * counts as a rejection. The journal is flushed after `FunctionCallStarted`
 * and before the tool runs (at-most-once side effects).
 *
 * @since 0.1.0
 */
import {
  Cause,
  Chunk,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  HashMap,
  HashSet,
  Option,
  Queue,
  Ref,
  Schema,
  Stream
} from "effect"
import * as Commands from "./Commands.js"
import * as Assemble from "./internal/inference/assemble.js"
import * as ContextItem from "./ContextItem.js"
import * as Environment from "./Environment.js"
import * as Event from "./Event.js"
import * as FunctionCallRunner from "./FunctionCallRunner.js"
import * as InferenceRunner from "./InferenceRunner.js"
import type * as Participant from "./Participant.js"
import * as Reducer from "./Reducer.js"
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

const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

// ---------------------------------------------------------------------------
// Context view
// ---------------------------------------------------------------------------

/** The agent's view: finished items in the order they entered its context. */
interface View {
  readonly order: Chunk.Chunk<string>
  readonly items: HashMap.HashMap<string, ContextItem.ContextItem>
}

const emptyView: View = { order: Chunk.empty(), items: HashMap.empty() }

const addToView = (view: View, item: ContextItem.ContextItem): View => ({
  order: HashMap.has(view.items, item.id) ? view.order : Chunk.append(view.order, item.id),
  items: HashMap.set(view.items, item.id, item)
})

const isMessage = (item: ContextItem.ContextItem): item is ContextItem.Message =>
  item._tag === "UserMessage" || item._tag === "ModelMessage" || item._tag === "SystemMessage" ||
  item._tag === "DeveloperMessage"

const attributed = (author: string, text: string, attribute: boolean) =>
  attribute ? `${author}: ${text}` : text

/** What the model sees of an item, from this agent's point of view (undefined: hidden). */
const present = (
  me: string,
  item: ContextItem.ContextItem,
  visibility: Visibility | undefined
): ContextItem.ContextItem | undefined => {
  if (item.status === "in_progress") return undefined
  if (item.author === me) return item
  const attribute = visibility?.attribute ?? true
  switch (item._tag) {
    case "SystemMessage":
    case "DeveloperMessage":
      return item
    case "UserMessage":
      if (!attribute) return item
      return new ContextItem.UserMessage({
        ...item,
        content: item.content.map((part, index) =>
          index === 0 && part._tag === "InputText"
            ? new ContextItem.InputText({ text: attributed(item.author, part.text, true) })
            : part
        )
      }, true)
    case "ModelMessage":
      return new ContextItem.UserMessage({
        id: item.id,
        author: item.author,
        status: item.status,
        content: [new ContextItem.InputText({ text: attributed(item.author, ContextItem.text(item), attribute) })]
      }, true)
    case "FunctionCall":
      if (!(visibility?.othersFunctionCalls ?? false)) return undefined
      return ContextItem.userText({
        id: item.id,
        author: item.author,
        text: attributed(item.author, `called ${item.name}(${item.arguments})`, true)
      })
    case "FunctionCallOutput":
      if (!(visibility?.othersFunctionCalls ?? false)) return undefined
      return ContextItem.userText({
        id: item.id,
        author: item.author,
        text: attributed(item.author, `got ${item.isError ? "an error" : "a result"}: ${ContextItem.text(item)}`, true)
      })
    case "Reasoning":
      return undefined
  }
}

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/** What a run has open: what the controller closes when it stops the run. */
interface RunState {
  readonly runId: string
  state: Event.AgentState
  inferenceId: string | null
  /** The current inference's assembly: the items streaming now, closed by the assembler if the run is cut. */
  assembly: Assemble.Assembly
  readonly calls: Map<string, ContextItem.FunctionCall>
  readonly answered: Set<string>
  /** Outputs published so far, by call id. */
  readonly outputs: Map<string, ContextItem.FunctionCallOutput>
  /** Set when the run has published its end: an interrupt after that has no effect. */
  ended: boolean
}

const newRunState = (me: string, runId: string): RunState => ({
  runId,
  state: "idle",
  inferenceId: null,
  assembly: Assemble.empty(me, runId),
  calls: new Map(),
  answered: new Set(),
  outputs: new Map(),
  ended: false
})

type Pending =
  | { readonly _tag: "Approval"; readonly runId: string; readonly deferred: Deferred.Deferred<Decision> }
  | { readonly _tag: "Clarification"; readonly runId: string; readonly deferred: Deferred.Deferred<string> }

type Decision = { readonly approved: boolean; readonly by: string; readonly reason: string }

/** Where a call resumes: from scratch, or after a restart at the step it had reached. */
type Stage = "new" | "requested" | "awaiting_approval" | "approved"

/** Where a run cut by a restart resumes: its calls still to finish, after its last inference. */
interface Resume {
  readonly turn: number
  readonly calls: ReadonlyArray<readonly [ContextItem.FunctionCall, Stage]>
}

type Signal =
  | { readonly _tag: "Event"; readonly event: Event.Event }
  | { readonly _tag: "RunFinished"; readonly runId: string }

interface Queued {
  readonly item: ContextItem.Message
  readonly event: Event.Event
}

/**
 * Makes an agent: a participant that needs an `InferenceRunner` and a
 * `FunctionCallRunner` (provide them per agent) and the `Environment`.
 *
 * @example
 * import { Effect } from "effect"
 * import { Agent, Environment, ScriptedModel, Toolkit } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("Hello!")]] })
 *   yield* env.join(Agent.make({ id: "assistant", instructions: "Be brief." })).pipe(
 *     Effect.provide(model.layer),
 *     Effect.provide(Toolkit.empty.layer)
 *   )
 * })
 */
export const make = (
  options: Options
): Participant.Participant<
  never,
  Environment.Environment | InferenceRunner.InferenceRunner | FunctionCallRunner.FunctionCallRunner
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
    const inference = yield* InferenceRunner.InferenceRunner
    const functions = yield* FunctionCallRunner.FunctionCallRunner
    const hooks: ReadonlyArray<Hooks> = options.hooks === undefined
      ? []
      : Array.isArray(options.hooks)
      ? options.hooks as ReadonlyArray<Hooks>
      : [options.hooks as Hooks]
    const maxTurns = options.maxTurns ?? 10
    const concurrency = options.concurrency ?? 4
    const exchangeCap = options.exchangeCap ?? 5
    const approvalTimeout = options.approval?.timeout === undefined ? undefined : Duration.decode(options.approval.timeout)

    const view = yield* Ref.make<View>(emptyView)
    const pending = yield* Ref.make(HashMap.empty<string, Pending>())
    // Calls of this agent that have been answered (approval) — a second answer is refused.
    const decided = yield* Ref.make(HashSet.empty<string>())
    const signals = yield* Queue.unbounded<Signal>()

    const publish = (payload: Event.Payload) => env.publish(me, payload)

    // --- the controller's state (owned by the controller fiber) -------------------------------
    let current: { readonly state: RunState; readonly fiber: Fiber.RuntimeFiber<void> } | undefined = undefined
    const queue: Array<Queued> = []
    const steer: Array<Queued> = []
    const deferred = new Set<string>()
    let exchanges = 0

    const kindOfMember = (id: string) =>
      Effect.map(env.members, (members) => members.find((member) => member.id === id)?.kind)
    const kindOf = kindOfMember

    const addressedToMe = (item: ContextItem.Message, done: Event.ItemDone) =>
      done.to.includes(me) || ContextItem.text(item).includes(`@${me}`)

    const triggers = (
      item: ContextItem.Message,
      event: Event.Event,
      done: Event.ItemDone,
      kindOf: (id: string) => Effect.Effect<Event.ParticipantKind | undefined> = kindOfMember
    ) =>
      Effect.gen(function*() {
        if (item.author === me || item.status !== "completed") return false
        if (item._tag !== "UserMessage" && item._tag !== "ModelMessage") return false
        if (done.to.length > 0 && !done.to.includes(me)) return false
        const reactTo = options.reactTo ?? "messages"
        if (typeof reactTo === "function") return reactTo(item, event, done)
        if (addressedToMe(item, done)) return true
        if (reactTo === "addressed") return false
        if (reactTo === "messages") return item._tag === "UserMessage" && (yield* kindOf(item.author)) !== "agent"
        return reactTo.from.includes(item.author)
      })

    const sees = (item: ContextItem.ContextItem) => {
      if (item.author === me) return true
      return (options.visibility?.scope ?? "environment") === "environment"
    }

    // --- context ---------------------------------------------------------------------------------
    const context = Effect.map(Ref.get(view), (current) => {
      const items: Array<ContextItem.ContextItem> = []
      if (options.instructions !== undefined) {
        items.push(ContextItem.systemText({ id: `${me}_instructions`, author: me, text: options.instructions }))
      }
      for (const id of current.order) {
        const item = HashMap.get(current.items, id)
        if (Option.isNone(item)) continue
        const shown = present(me, item.value, options.visibility)
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

    // --- one run -----------------------------------------------------------------------------------
    const runHook = <A>(name: string, effect: Effect.Effect<A, unknown>) =>
      Effect.catchAllCause(effect, (cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause as Cause.Cause<never>)
          : Effect.fail(new HookError({ hook: name, cause: Cause.squash(cause) })))

    const setState = (state: RunState, to: Event.AgentState) =>
      Effect.suspend(() => {
        const from = state.state
        if (from === to) return Effect.void
        state.state = to
        return publish(new Event.StateChanged({ participant: me, runId: state.runId, from, to }))
      })

    const finishItem = (state: RunState, item: ContextItem.ContextItem, extra?: { readonly to?: ReadonlyArray<string> }) =>
      Effect.gen(function*() {
        yield* publish(new Event.ItemDone({ item, runId: state.runId, to: extra?.to ?? [], policy: null }))
        yield* Ref.update(view, (current) => addToView(current, item))
      })

    const publishOutput = (state: RunState, call: ContextItem.FunctionCall, result: Tool.Result) =>
      Effect.gen(function*() {
        const item = new ContextItem.FunctionCallOutput({
          id: `${call.callId}_output`,
          author: me,
          status: "completed",
          callId: call.callId,
          output: result.output,
          isError: result.isError
        }, true)
        state.answered.add(call.callId)
        state.outputs.set(call.callId, item)
        yield* publish(new Event.ItemAdded({ item, runId: state.runId }))
        yield* publish(new Event.ItemDone({ item, runId: state.runId, to: [], policy: null }))
        return item
      })

    const inferOnce = (state: RunState, turn: number) =>
      Effect.gen(function*() {
        let items: ReadonlyArray<ContextItem.ContextItem> = yield* context
        let tools: ReadonlyArray<Tool.Definition> = yield* toolDefinitions
        for (const hook of hooks) {
          if (hook.beforeInference === undefined) continue
          const decision = yield* runHook("beforeInference", hook.beforeInference({ runId: state.runId, turn, items, tools }))
          if (decision === undefined) continue
          if ("skip" in decision) return { skipped: true as const, produced: [], calls: [] }
          if (decision.items !== undefined) items = decision.items
          if (decision.tools !== undefined) tools = decision.tools
        }
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
        // Each part is applied atomically: a stop sees the assembly exactly as published.
        const onPart = (part: InferenceRunner.Part) =>
          Effect.uninterruptible(Effect.suspend(() => {
            const next = Assemble.step(state.assembly, part)
            if (Either.isLeft(next)) return Effect.fail(next.left)
            return Effect.zipRight(
              Effect.forEach(next.right.publish, (payload) => {
                if (payload._tag !== "ItemDone") return publish(payload)
                const item = payload.item
                produced.push(item)
                if (item._tag === "FunctionCall") {
                  state.calls.set(item.callId, item)
                  calls.push(item)
                }
                return finishItem(state, item)
              }, { discard: true }),
              Effect.sync(() => {
                state.assembly = next.right.assembly
              })
            )
          }))
        const streamed = yield* inference.stream(request).pipe(
          Stream.runForEach(onPart),
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
        for (const hook of hooks) {
          if (hook.afterInference !== undefined) {
            yield* runHook("afterInference", hook.afterInference({ runId: state.runId, turn, items: produced, usage }))
          }
          if (hook.onModelMessage !== undefined) {
            for (const item of produced) {
              if (item._tag === "ModelMessage") yield* runHook("onModelMessage", hook.onModelMessage(item))
            }
          }
        }
        return { skipped: false as const, produced, calls }
      })

    const awaitApproval = (state: RunState, call: ContextItem.FunctionCall, announce: boolean) =>
      Effect.gen(function*() {
        // A restored run finds its request registered already, so no early answer is lost.
        const registered = HashMap.get(yield* Ref.get(pending), call.callId)
        const deferred = Option.isSome(registered) && registered.value._tag === "Approval"
          ? registered.value.deferred
          : yield* Deferred.make<Decision>()
        yield* Ref.update(pending, HashMap.set(call.callId, { _tag: "Approval", runId: state.runId, deferred } as Pending))
        if (announce) {
          yield* publish(new Event.ApprovalRequested({
            runId: state.runId,
            callId: call.callId,
            name: call.name,
            arguments: call.arguments
          }))
        }
        const waiting = Deferred.await(deferred)
        const decision = approvalTimeout === undefined
          ? yield* waiting
          : yield* waiting.pipe(
            Effect.timeoutTo({
              duration: approvalTimeout,
              onSuccess: (decision) => Effect.succeed(decision),
              onTimeout: () =>
                Ref.modify(decided, (set) =>
                  HashSet.has(set, call.callId)
                    ? [Deferred.await(deferred), set] as const
                    : [
                      Effect.succeed<Decision>({ approved: false, by: "timeout", reason: "the approval request timed out" }),
                      HashSet.add(set, call.callId)
                    ] as const).pipe(Effect.flatten)
            }),
            Effect.flatten
          )
        yield* Ref.update(pending, HashMap.remove(call.callId))
        if (decision.approved) {
          yield* publish(new Event.FunctionCallApproved({ callId: call.callId, by: decision.by }))
        } else {
          yield* publish(new Event.FunctionCallRejected({ callId: call.callId, by: decision.by, reason: decision.reason }))
        }
        return decision
      })

    const askHuman = (state: RunState, call: ContextItem.FunctionCall) =>
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
        const deferred = yield* Deferred.make<string>()
        yield* Ref.update(pending, HashMap.set(call.callId, { _tag: "Clarification", runId: state.runId, deferred } as Pending))
        yield* publish(new Event.ClarificationRequested({ callId: call.callId, question }))
        const answer = yield* Deferred.await(deferred).pipe(Effect.ensuring(Ref.update(pending, HashMap.remove(call.callId))))
        return { output: answer, isError: false } satisfies Tool.Result
      })

    const callOnce = (
      state: RunState,
      original: ContextItem.FunctionCall,
      definitions: ReadonlyArray<Tool.Definition>,
      stage: Stage
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
        for (const hook of stage === "new" || stage === "requested" ? hooks : []) {
          if (hook.beforeFunctionCall === undefined) continue
          const decision = yield* runHook("beforeFunctionCall", hook.beforeFunctionCall(call))
          if (decision === undefined) continue
          if ("veto" in decision) {
            yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: `vetoed: ${decision.veto}` }))
            return { call, result: { output: decision.veto, isError: true } satisfies Tool.Result }
          }
          call = new ContextItem.FunctionCall({ ...call, arguments: decision.arguments }, true)
        }
        const definition = definitions.find((definition) => definition.name === call.name)
        const needsApproval = stage === "awaiting_approval" ||
          (stage !== "approved" && call.name !== askHumanTool &&
            Tool.needsApproval(approvalPolicy(definition, call.name), call.arguments))
        if (needsApproval) {
          yield* setState(state, "awaiting-approval")
          const decision = yield* awaitApproval(state, call, stage !== "awaiting_approval")
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
          yield* setState(state, "function-calls")
        }
        yield* publish(new Event.FunctionCallStarted({ callId: call.callId, name: call.name }))
        // At most once: the start is durable before the side effect happens.
        yield* Effect.ignore(env.flush)
        const outcome = call.name === askHumanTool && options.askHuman === true
          ? yield* Effect.either(askHuman(state, call))
          : yield* Effect.either(functions.run({
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
        for (const hook of hooks) {
          if (hook.afterFunctionCall === undefined) continue
          const decision = yield* runHook("afterFunctionCall", hook.afterFunctionCall(call, result))
          if (decision !== undefined) result = decision.output
        }
        if (outcome._tag === "Right") {
          yield* publish(new Event.FunctionCallCompleted({ callId: call.callId, isError: result.isError }))
        }
        return { call, result }
      })

    const runFunctionCalls = (state: RunState, calls: ReadonlyArray<readonly [ContextItem.FunctionCall, Stage]>) =>
      Effect.gen(function*() {
        yield* setState(state, "function-calls")
        const definitions = yield* toolDefinitions
        const results = yield* Effect.forEach(
          calls,
          ([call, stage]) =>
            Effect.flatMap(callOnce(state, call, definitions, stage), ({ call, result }) =>
              // Each output is published as it finishes...
              Effect.map(publishOutput(state, call, result), (item) => item)),
          { concurrency }
        )
        // ...and enters the context in call order.
        yield* Ref.update(view, (current) => results.reduce(addToView, current))
      })

    const takeSteered = (state: RunState) =>
      Effect.gen(function*() {
        while (steer.length > 0) {
          const next = steer.shift()!
          deferred.delete(next.item.id)
          yield* Ref.update(view, (current) => addToView(current, next.item))
          yield* publish(new Event.InputSteered({ participant: me, itemId: next.item.id, runId: state.runId }))
        }
      })

    const runLoop = (state: RunState, resume?: Resume) =>
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

    const runEffect = (state: RunState, resume?: Resume) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(runLoop(state, resume))
        yield* Effect.uninterruptible(endRun(state, exit))
        yield* signals.offer({ _tag: "RunFinished", runId: state.runId })
      })

    const endRun = (state: RunState, exit: Exit.Exit<{ readonly outcome: Event.RunOutcome; readonly detail: string | null }, unknown>) =>
      Effect.gen(function*() {
        if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return
        state.ended = true
        if (Exit.isSuccess(exit)) {
          yield* setState(state, "idle")
          yield* publish(new Event.RunEnded({ participant: me, runId: state.runId, outcome: exit.value.outcome, detail: exit.value.detail }))
        } else if (!Cause.isInterruptedOnly(exit.cause)) {
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure) && failure.value instanceof HookError) {
            yield* publish(new Event.HookFailed({ participant: me, runId: state.runId, hook: failure.value.hook, error: failure.value.message }))
          }
          // Close what the failure left open, so the transcript stays valid.
          yield* closeOpen(state, "the run failed")
          yield* setState(state, "idle")
          yield* publish(new Event.RunEnded({
            participant: me,
            runId: state.runId,
            outcome: "failed",
            detail: Option.isSome(failure) ? describe(failure.value) : Cause.pretty(exit.cause)
          }))
        }
      })

    /** Closes open items as incomplete and gives unanswered calls a cancelled output. */
    const closeOpen = (state: RunState, reason: string) =>
      Effect.gen(function*() {
        const incompleteItems: Array<string> = []
        const cut = Assemble.cut(state.assembly)
        state.assembly = Assemble.empty(me, state.runId)
        for (const closed of cut.items) {
          incompleteItems.push(closed.id)
          if (closed._tag === "FunctionCall") state.calls.set(closed.callId, closed)
          yield* finishItem(state, closed)
        }
        const cancelledCalls: Array<string> = []
        for (const call of state.calls.values()) {
          const published = state.outputs.get(call.callId)
          if (published !== undefined) {
            // Finished before the stop: its output enters the context, in call order.
            yield* Ref.update(view, (current) => addToView(current, published))
            continue
          }
          cancelledCalls.push(call.callId)
          yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason }))
          const item = yield* publishOutput(state, call, {
            output: `The call was cancelled before it finished (${reason}); it may not have run.`,
            isError: true
          })
          yield* Ref.update(view, (current) => addToView(current, item))
        }
        // Pending approvals and questions of this run are gone.
        yield* Ref.update(pending, HashMap.filter((entry) => entry.runId !== state.runId))
        return { incompleteItems, cancelledCalls }
      })

    const startRun = (trigger: Queued, batch: ReadonlyArray<Queued>) =>
      Effect.gen(function*() {
        const runId = `${me}_run_${trigger.event.sequence}`
        const state = newRunState(me, runId)
        for (const entry of batch) {
          if (deferred.delete(entry.item.id)) {
            yield* Ref.update(view, (current) => addToView(current, entry.item))
            yield* publish(new Event.InputDequeued({ participant: me, itemId: entry.item.id, runId }))
          }
        }
        yield* publish(new Event.RunStarted({ participant: me, runId, trigger: trigger.item.id }))
        const fiber = yield* Effect.forkDaemon(runEffect(state))
        current = { state, fiber }
      })

    const stopRun = (reason: string) =>
      Effect.gen(function*() {
        const running = current
        if (running === undefined) return
        current = undefined
        yield* Fiber.interrupt(running.fiber)
        const state = running.state
        if (state.ended) {
          yield* publish(new Event.InterruptIgnored({ participant: me, runId: state.runId, reason: "that run has already ended" }))
          return
        }
        if (state.inferenceId !== null) {
          yield* publish(new Event.InferenceInterrupted({ runId: state.runId, inferenceId: state.inferenceId }))
        }
        const { cancelledCalls, incompleteItems } = yield* closeOpen(state, reason)
        yield* publish(new Event.RunInterrupted({ participant: me, runId: state.runId, incompleteItems, cancelledCalls }))
        yield* setState(state, "idle")
        yield* publish(new Event.RunEnded({ participant: me, runId: state.runId, outcome: "interrupted", detail: reason }))
      })

    const startNext = Effect.gen(function*() {
      if (current !== undefined) return
      // Steered messages that found no model call left in their run are handled next, first.
      for (const entry of steer.splice(0).reverse()) {
        queue.unshift(entry)
        yield* publish(new Event.InputQueued({ participant: me, itemId: entry.item.id, position: 1 }))
      }
      if (queue.length === 0) return
      const batch = queue.splice(0)
      yield* startRun(batch[0]!, batch)
    })

    const onMessage = (event: Event.Event, done: Event.ItemDone, item: ContextItem.Message) =>
      Effect.gen(function*() {
        if (!(yield* triggers(item, event, done))) {
          if (sees(item)) yield* Ref.update(view, (current) => addToView(current, item))
          return
        }
        for (const hook of hooks) {
          if (hook.onUserMessage === undefined) continue
          const decision = yield* Effect.either(runHook("onUserMessage", hook.onUserMessage(item, event)))
          if (decision._tag === "Left") {
            yield* publish(new Event.HookFailed({ participant: me, runId: null, hook: "onUserMessage", error: decision.left.message }))
            yield* Ref.update(view, (current) => addToView(current, item))
            return
          }
          if (decision.right !== undefined && decision.right.ignore) {
            yield* Ref.update(view, (current) => addToView(current, item))
            return
          }
        }
        const fromAgent = (yield* kindOf(item.author)) === "agent"
        if (fromAgent) {
          if (exchanges >= exchangeCap) {
            yield* Ref.update(view, (current) => addToView(current, item))
            yield* publish(new Event.RunEnded({
              participant: me,
              runId: `${me}_run_${event.sequence}`,
              outcome: "exchange_cap",
              detail: `${exchanges} runs in a row were triggered by agents without a human message`
            }))
            return
          }
          exchanges++
        } else {
          exchanges = 0
        }
        const entry: Queued = { item, event }
        if (current === undefined) {
          yield* Ref.update(view, (current) => addToView(current, item))
          return yield* startRun(entry, [])
        }
        const policy = done.policy ?? options.busyPolicy ?? "queue"
        switch (policy) {
          case "queue":
            deferred.add(item.id)
            queue.push(entry)
            yield* publish(new Event.InputQueued({ participant: me, itemId: item.id, position: queue.length }))
            return
          case "steer":
            deferred.add(item.id)
            steer.push(entry)
            return
          case "interrupt":
            deferred.add(item.id)
            queue.unshift(entry)
            yield* publish(new Event.InputQueued({ participant: me, itemId: item.id, position: 1 }))
            yield* stopRun(`interrupted by a message from ${item.author}`)
            return yield* startNext
          case "drop":
            yield* publish(new Event.InputDropped({ participant: me, itemId: item.id, reason: "the agent was busy" }))
            return
        }
      })

    const onAnswer = (event: Event.Event, answer: Event.ApprovalAnswered) =>
      Effect.gen(function*() {
        const entry = HashMap.get(yield* Ref.get(pending), answer.callId)
        const alreadyDecided = HashSet.has(yield* Ref.get(decided), answer.callId)
        if (Option.isNone(entry) || entry.value._tag !== "Approval") {
          // Answers to other agents' calls are theirs to judge.
          if (alreadyDecided) {
            yield* publish(new Event.ApprovalAnswerRefused({ callId: answer.callId, by: event.author, reason: "already_answered" }))
          }
          return
        }
        if (!(yield* mayApprove(event.author))) {
          yield* publish(new Event.ApprovalAnswerRefused({ callId: answer.callId, by: event.author, reason: "not_allowed" }))
          return
        }
        const first = yield* Ref.modify(decided, (set) =>
          HashSet.has(set, answer.callId) ? [false, set] as const : [true, HashSet.add(set, answer.callId)] as const)
        if (!first) {
          yield* publish(new Event.ApprovalAnswerRefused({ callId: answer.callId, by: event.author, reason: "already_answered" }))
          return
        }
        yield* Deferred.succeed(entry.value.deferred, {
          approved: answer.approved,
          by: event.author,
          reason: answer.reason ?? (answer.approved ? "approved" : "rejected")
        })
      })

    const onEvent = (event: Event.Event) =>
      Effect.gen(function*() {
        const payload = event.payload
        switch (payload._tag) {
          case "ItemDone": {
            if (event.author === me) return
            const item = payload.item
            if (isMessage(item)) return yield* onMessage(event, payload, item)
            if (sees(item) && item.status !== "in_progress") yield* Ref.update(view, (current) => addToView(current, item))
            return
          }
          case "InterruptRequested": {
            if (payload.participant !== me) return
            if (current === undefined) {
              yield* publish(new Event.InterruptIgnored({ participant: me, runId: payload.runId, reason: "the agent is idle" }))
              return
            }
            if (payload.runId !== null && payload.runId !== current.state.runId) {
              yield* publish(new Event.InterruptIgnored({ participant: me, runId: payload.runId, reason: "that run has already ended" }))
              return
            }
            yield* stopRun(`interrupted by ${event.author}`)
            return yield* startNext
          }
          case "ApprovalAnswered":
            return yield* onAnswer(event, payload)
          case "ClarificationAnswered": {
            const entry = HashMap.get(yield* Ref.get(pending), payload.callId)
            if (Option.isSome(entry) && entry.value._tag === "Clarification") {
              yield* Deferred.succeed(entry.value.deferred, payload.answer)
            }
            return
          }
          default:
            return
        }
      })

    // --- resume after a restart --------------------------------------------------------------------
    const history: Array<Event.Event> = []

    const restore = (events: ReadonlyArray<Event.Event>) =>
      Effect.gen(function*() {
        let transcript = Reducer.transcript.initial
        let commands = Commands.reducer.initial
        const kinds = new Map<string, Event.ParticipantKind>()
        const order: Array<string> = []
        const hidden = new Set<string>()
        const handled = new Set<string>()
        const messages = new Map<string, Queued & { readonly done: Event.ItemDone }>()
        const queuedIds: Array<string> = []
        const runOfItem = new Map<string, string>()
        const inferences = new Map<string, number>()
        let openRun: string | undefined = undefined
        let presentSince = -1
        for (const event of events) {
          transcript = Reducer.transcript.reduce(transcript, event)
          commands = Commands.reducer.reduce(commands, event)
          const payload = event.payload
          switch (payload._tag) {
            case "ParticipantJoined":
              kinds.set(payload.participant, payload.kind)
              if (payload.participant === me) presentSince = event.sequence
              break
            case "ParticipantLeft":
              // Messages sent while it was away (not crashed) were not its to handle.
              if (payload.participant === me) presentSince = -1
              break
            case "ItemAdded":
              if (event.author === me && payload.runId !== null) runOfItem.set(payload.item.id, payload.runId)
              break
            case "ItemDone": {
              const item = payload.item
              if (item.status === "in_progress") break
              if (item.author !== me && isMessage(item)) {
                messages.set(item.id, { item, event, done: payload })
              }
              if (item.author === me || sees(item)) order.push(item.id)
              break
            }
            case "RunStarted":
              if (payload.participant !== me) break
              openRun = payload.runId
              if (payload.trigger !== null) handled.add(payload.trigger)
              break
            case "RunEnded":
              if (payload.participant === me && payload.runId === openRun) openRun = undefined
              break
            case "InferenceStarted":
              if (event.author === me) inferences.set(payload.runId, (inferences.get(payload.runId) ?? 0) + 1)
              break
            case "InputQueued":
              if (payload.participant !== me) break
              handled.add(payload.itemId)
              hidden.add(payload.itemId)
              if (!queuedIds.includes(payload.itemId)) queuedIds.push(payload.itemId)
              break
            case "InputDropped":
              if (payload.participant !== me) break
              handled.add(payload.itemId)
              hidden.add(payload.itemId)
              break
            case "InputDequeued":
            case "InputSteered": {
              if (payload.participant !== me) break
              const at = queuedIds.indexOf(payload.itemId)
              if (at >= 0) queuedIds.splice(at, 1)
              hidden.delete(payload.itemId)
              order.push(payload.itemId)
              break
            }
          }
        }
        // This agent's calls that were answered: a later answer is refused as a second one.
        for (const command of HashMap.values(commands)) {
          if (command.agent === me && command.answeredBy !== null) yield* Ref.update(decided, HashSet.add(command.callId))
        }
        // Messages that reached this agent while it was present but were never handled died with the process.
        const kindFromHistory = (id: string) => Effect.succeed(kinds.get(id))
        for (const entry of messages.values()) {
          if (presentSince < 0 || handled.has(entry.item.id) || entry.event.sequence <= presentSince) continue
          if (!(yield* triggers(entry.item, entry.event, entry.done, kindFromHistory))) continue
          handled.add(entry.item.id)
          hidden.add(entry.item.id)
          queuedIds.push(entry.item.id)
        }
        // The context: each item at its last position, without what is still queued or was dropped.
        const last = new Map<string, number>()
        order.forEach((id, index) => last.set(id, index))
        let restored = emptyView
        order.forEach((id, index) => {
          if (last.get(id) !== index || hidden.has(id)) return
          const item = HashMap.get(transcript.items, id)
          if (Option.isSome(item)) restored = addToView(restored, item.value)
        })
        yield* Ref.set(view, restored)
        for (const id of queuedIds) {
          const entry = messages.get(id)
          if (entry === undefined) continue
          deferred.add(id)
          queue.push({ item: entry.item, event: entry.event })
        }
        if (openRun === undefined) return
        // A run cut by the restart.
        const runId = openRun
        const state = newRunState(me, runId)
        const resumable: Array<readonly [ContextItem.FunctionCall, Stage]> = []
        for (const item of Reducer.items(transcript)) {
          if (item.author !== me) continue
          if (item._tag === "FunctionCallOutput") {
            if (state.calls.has(item.callId)) {
              state.answered.add(item.callId)
              state.outputs.set(item.callId, item)
            }
            continue
          }
          if (runOfItem.get(item.id) !== runId) continue
          // The transcript has folded its deltas already.
          if (item.status === "in_progress") {
            state.assembly = { ...state.assembly, open: new Map([...state.assembly.open, [item.id, { item }]]) }
          }
          else if (item._tag === "FunctionCall") state.calls.set(item.callId, item)
        }
        for (const call of state.calls.values()) {
          if (state.answered.has(call.callId)) continue
          const command = HashMap.get(commands, call.callId)
          const status = Option.isSome(command) ? command.value.status : "new"
          if (status === "running") {
            // At most once: a call that had started is never run again silently.
            yield* publish(new Event.FunctionCallCancelled({ callId: call.callId, reason: "interrupted by a restart" }))
            const output = yield* publishOutput(state, call, {
              output: "The call was interrupted by a restart before it finished: it may or may not have taken effect, " +
                "and it was not run again.",
              isError: true
            })
            yield* Ref.update(view, (current) => addToView(current, output))
          } else if (status === "new" || status === "requested" || status === "awaiting_approval" || status === "approved") {
            resumable.push([call, status === "new" ? "requested" : status])
          }
        }
        if (state.assembly.open.size === 0 && resumable.length > 0) {
          // Answers may arrive before the resumed run reaches its calls: register the waits now.
          for (const [call, stage] of resumable) {
            if (stage !== "awaiting_approval") continue
            const deferred = yield* Deferred.make<Decision>()
            yield* Ref.update(pending, HashMap.set(call.callId, { _tag: "Approval", runId, deferred } as Pending))
          }
          yield* publish(new Event.RunStarted({ participant: me, runId, trigger: null }))
          const fiber = yield* Effect.forkDaemon(runEffect(state, { turn: inferences.get(runId) ?? 1, calls: resumable }))
          current = { state, fiber }
          return
        }
        // Cut mid-inference: it ends as interrupted, its partial output kept as incomplete.
        const { cancelledCalls, incompleteItems } = yield* closeOpen(state, "interrupted by a restart")
        yield* publish(new Event.RunInterrupted({ participant: me, runId, incompleteItems, cancelledCalls }))
        yield* publish(new Event.RunEnded({ participant: me, runId, outcome: "interrupted", detail: "interrupted by a restart" }))
      })

    const caughtUp = (event: Event.Event) =>
      Effect.gen(function*() {
        if (event.sequence > start.history) return true
        history.push(event)
        if (event.sequence === start.history) {
          yield* restore(history.splice(0))
          yield* startNext
        }
        return false
      })

    if (start.history < 0) yield* startNext

    yield* inbox.pipe(
      Stream.runForEach((event) => signals.offer({ _tag: "Event", event })),
      Effect.ensuring(signals.shutdown),
      Effect.forkScoped
    )

    yield* Effect.gen(function*() {
      while (true) {
        const signal = yield* signals.take
        if (signal._tag === "Event") {
          if (yield* caughtUp(signal.event)) yield* onEvent(signal.event)
        } else if (current !== undefined && current.state.runId === signal.runId) {
          current = undefined
          yield* startNext
        }
      }
    }).pipe(
      Effect.onInterrupt(() => current === undefined ? Effect.void : Fiber.interrupt(current.fiber)),
      Effect.catchAllCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.failCause(cause))
    )
  }).pipe(Effect.scoped)
