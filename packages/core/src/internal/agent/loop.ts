/**
 * The controller's loop: it reads the agent's inbox directly. Every event is first folded into the
 * agent's history (replayed or live: one fold, `history.ts`); at the end of the replay the agent
 * resumes (`resume.ts`, then the interpreter); live events become the controller's inputs — a
 * message that may start a run, the run's own end, an interrupt, approval and clarification
 * answers.
 *
 * @internal
 */
import { Cause, Chunk, Effect, HashMap, Option, Ref, Stream } from "effect"
import * as Activity from "../../Activity.js"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as Participant from "../../Participant.js"
import * as Approvals from "./approvals.js"
import { isMessage } from "./context.js"
import * as Controller from "./controller.js"
import type * as History from "./history.js"
import * as Interpreter from "./interpreter.js"
import * as Resume from "./resume.js"
import * as Runtime from "./runtime.js"
import * as State from "./state.js"
import * as Triggers from "./triggers.js"

const triggers = (rt: Runtime.Runtime, item: ContextItem.Message, event: Event.Event, done: Event.ItemDone) =>
  Effect.suspend(() => {
    const reaction = Triggers.reaction(rt.me, rt.options.reactTo ?? "messages", item, event, done)
    return reaction === "unless-agent"
      ? Effect.map(Runtime.kindOf(rt, item.author), (kind) => kind !== "agent")
      : Effect.succeed(reaction)
  })

/** A finished message from someone else: does it start a run (its facts gathered, then the decision)? */
const onMessage = (rt: Runtime.Runtime, event: Event.Event, done: Event.ItemDone, item: ContextItem.Message) =>
  Effect.gen(function*() {
    if (!(yield* triggers(rt, item, event, done))) return
    const hooked = yield* Effect.either(rt.hooks.onUserMessage(item, event))
    if (hooked._tag === "Left") {
      yield* Runtime.publish(
        rt,
        new Event.HookFailed({ participant: rt.me, runId: null, hook: "onUserMessage", error: hooked.left.message })
      )
      return
    }
    if (!hooked.right) return
    const fromAgent = (yield* Runtime.kindOf(rt, item.author)) === "agent"
    const policy = done.policy ?? rt.options.busyPolicy ?? "queue"
    return yield* Interpreter.handle(rt, Controller.Input.Trigger({ entry: { item, event }, fromAgent, policy }))
  })

/** The run whose step this own event reports (`steps.ts`), if it reports one. */
const reports = (payload: Event.Payload): string | null => {
  switch (payload._tag) {
    case "InferenceStarted":
    case "InferenceCompleted":
    case "InferenceFailed":
      return payload.runId
    case "ItemDone":
      return payload.item._tag === "FunctionCall" || payload.item._tag === "FunctionCallOutput" ? payload.runId : null
    case "HookFailed":
    case "ApprovalRequested":
      return payload.runId
    default:
      return null
  }
}

/**
 * An answer to an approval: its facts gathered (may its author approve? is this the agent that refuses
 * answers nobody asked for — the first agent by id, so it happens once? what the journal says of the
 * call), then the decision (`approvals.ts`).
 */
const onAnswer = (rt: Runtime.Runtime, event: Event.Event, answer: Event.ApprovalAnswered) =>
  Effect.gen(function*() {
    const approvers = rt.options.approval?.approvers
    const { history } = yield* Ref.get(rt.state)
    const known = Option.getOrNull(HashMap.get(history.commands, answer.callId))
    // The members are asked for only when a fact needs them (clustered, it is a request to the environment).
    const members = approvers === undefined || known === null ? yield* rt.env.members : []
    const allowed = approvers !== undefined
      ? approvers.includes(event.author)
      : members.find((member) => member.id === event.author)?.kind === "human"
    // Only a call nobody asked for needs it: the first agent by id refuses.
    const refusesUnknown = known === null &&
      !members.some((member) => member.kind === "agent" && member.id < rt.me) &&
      members.some((member) => member.kind === "agent" && member.id === rt.me)
    yield* Interpreter.handle(
      rt,
      Approvals.Input.Answered({
        callId: answer.callId,
        by: event.author,
        approved: answer.approved,
        reason: answer.reason,
        allowed,
        refusesUnknown,
        known
      })
    )
  })

/** A live event, after it was folded. */
const onEvent = (rt: Runtime.Runtime, event: Event.Event) => {
  const payload = event.payload
  if (event.author === rt.me) {
    const runId = reports(payload)
    if (runId !== null) return Interpreter.handle(rt, Controller.Input.Reported({ runId, payload }))
  }
  switch (payload._tag) {
    case "ItemDone":
      return event.author !== rt.me && isMessage(payload.item) ? onMessage(rt, event, payload, payload.item) : Effect.void
    case "RunEnded":
      // The run going has ended (its fiber published it): the next input may start.
      return event.author === rt.me ? Interpreter.handle(rt, Controller.Input.RunEnded({ runId: payload.runId })) : Effect.void
    case "InterruptRequested":
      return payload.participant === rt.me
        ? Interpreter.handle(rt, Controller.Input.Interrupt({ runId: payload.runId, by: event.author }))
        : Effect.void
    case "ApprovalAnswered":
      return onAnswer(rt, event, payload)
    case "ClarificationAnswered":
      return Interpreter.handle(rt, Approvals.Input.Clarified({ callId: payload.callId, answer: payload.answer }))
    default:
      return Effect.void
  }
}

const startNext = (rt: Runtime.Runtime) => Interpreter.handle(rt, Controller.Input.Next())

/** Folds an event into the agent's history (replayed or live: one fold). */
const fold = (rt: Runtime.Runtime, event: Event.Event) => State.fold(rt.state, rt.historyReducer, event)

/** A live event: folded, then the controller's input. */
const live = (rt: Runtime.Runtime, event: Event.Event) => Effect.zipRight(fold(rt, event), onEvent(rt, event))

/** The journal is folded: resume is a decision on the fold, then the next input. */
const resume = (rt: Runtime.Runtime, history: History.History) =>
  Effect.gen(function*() {
    const reactTo = rt.options.reactTo ?? "messages"
    // Who is an agent, as the journal says: an environment projection, looked up only when needed.
    const kinds = Resume.needsKinds(rt.me, reactTo, history)
      ? (yield* rt.env.projection(Activity.reducer)).participants
      : HashMap.empty<string, Activity.Participant>()
    const kindOf = (id: string) => Option.getOrUndefined(HashMap.get(kinds, id))?.kind
    yield* Interpreter.restore(rt, Resume.plan(rt.me, reactTo, history, kindOf))
    yield* startNext(rt)
  })

/**
 * How the agent stops: leaving mid-run closes the run like a stop; when the environment closes,
 * the run stays open to resume. A history that cannot be read fails the agent visibly; it never
 * looks like it left. The run's fibers go last.
 */
const stopping = <E>(rt: Runtime.Runtime, start: Participant.Start, serving: Effect.Effect<void, E>) =>
  // One handler on the waiting agent's stack (what `onExit` then `catchAllCause` would do in two),
  // run uninterruptibly: what it closes, then its fibers.
  Effect.uninterruptibleMask((restore) =>
    Effect.matchCauseEffect(restore(serving), {
      onFailure: (cause) => {
        if (!Cause.isInterruptedOnly(cause)) return Effect.zipRight(Runtime.release(rt), Effect.failCause(cause))
        const closing = Effect.flatMap(start.leaving ?? Effect.succeed(false), (leaving) =>
          leaving ? Interpreter.stopRun(rt, "the agent left the environment") : Interpreter.halt(rt))
        return Effect.zipRight(closing, Runtime.release(rt))
      },
      onSuccess: () => Runtime.release(rt)
    })
  )

/**
 * Serves the mailbox, read directly (no Stream): the history first (folded, then resume), then
 * live events, a chunk at a time, until the mailbox closes. While it waits the agent holds its
 * state, its mailbox and this one loop.
 */
export const serveMailbox = (rt: Runtime.Runtime, mailbox: Participant.Mailbox, start: Participant.Start) => {
  const loop: Effect.Effect<void> = Effect.flatMap(mailbox.take, (chunk) =>
    Chunk.isEmpty(chunk)
      ? Effect.void
      : Effect.zipRight(
        chunk.length === 1 ? live(rt, Chunk.unsafeHead(chunk)) : Effect.forEach(chunk, (event) => live(rt, event), { discard: true }),
        loop
      ))
  const history = mailbox.history
  const replayed = history === undefined
    ? startNext(rt)
    : Effect.zipRight(
      Stream.runForEach(history, (event) => fold(rt, event)),
      Effect.flatMap(Ref.get(rt.state), (state) => resume(rt, state.history))
    )
  return stopping(rt, start, Effect.zipRight(replayed, loop))
}

/**
 * Serves the inbox stream (an environment that does not hand the mailbox itself): the same as
 * {@link serveMailbox}, the end of the history told by `start.history`.
 */
export const serve = (rt: Runtime.Runtime, inbox: Participant.Inbox, start: Participant.Start) =>
  stopping(
    rt,
    start,
    Effect.zipRight(
      start.history < 0 ? startNext(rt) : Effect.void,
      Stream.runForEach(inbox, (event) =>
        Effect.flatMap(fold(rt, event), (history) => {
          if (event.sequence > start.history) return onEvent(rt, event)
          return event.sequence < start.history ? Effect.void : resume(rt, history)
        }))
    )
  )
