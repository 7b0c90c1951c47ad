/**
 * An agent's approvals and clarification questions: who waits for which answer, and which
 * answers are refused. Calls are identified by run and call id (providers reuse call ids
 * across responses). An answer that arrives before its request is kept and applied when
 * the request goes out; every answer with no effect is refused visibly.
 *
 * Owned by the agent: answers are applied by its controller, waits happen in its run.
 *
 * @internal
 */
import { Deferred, Duration, Effect, HashMap, HashSet, Option, Ref } from "effect"
import * as Commands from "../../Commands.js"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"

/** How an approval was decided. */
export interface Decision {
  readonly approved: boolean
  readonly by: string
  readonly reason: string
}

type Pending =
  | { readonly _tag: "Approval"; readonly runId: string; readonly deferred: Deferred.Deferred<Decision> }
  | { readonly _tag: "Clarification"; readonly runId: string; readonly deferred: Deferred.Deferred<string> }

/** The run an answer may apply to: its id, whether it ended, its calls and the calls already answered. */
export interface CurrentRun {
  readonly runId: string
  readonly ended: boolean
  readonly calls: ReadonlyMap<string, ContextItem.FunctionCall>
  readonly answered: ReadonlySet<string>
}

/** What approvals need from the agent. */
export interface Dependencies {
  readonly me: string
  readonly publish: (payload: Event.Payload) => Effect.Effect<unknown>
  readonly mayApprove: (by: string) => Effect.Effect<boolean>
  /** Whether this agent refuses answers for calls nobody asked (one agent does, so it happens once). */
  readonly refusesUnknown: Effect.Effect<boolean>
  readonly timeout: Duration.Duration | undefined
  readonly current: () => CurrentRun | undefined
}

/** Calls are identified by run and call id. */
export const callKey = (runId: string, callId: string): string => `${runId}\u0000${callId}`

/** Makes an agent's approvals (when a call or an answer first concerns the agent). */
export const make = (deps: Dependencies) => {
  const { me, publish } = deps
  const pending = Ref.unsafeMake(HashMap.empty<string, Pending>())
  // Calls of this agent that have been answered, by run and call id: a second answer is refused.
  const decided = Ref.unsafeMake(HashSet.empty<string>())
  // This agent's calls (the latest run of each call id), and every call asked by anyone.
  const myCalls = new Map<string, string>()
  const knownCalls = new Set<string>()

  const register = (callId: string, entry: Pending) => Ref.update(pending, (all) => HashMap.set(all, callId, entry))

  /** Waits for the call's approval (announcing it unless a restored run announced it already). */
  const await_ = (runId: string, call: ContextItem.FunctionCall, announce: boolean) =>
    Effect.gen(function*() {
      // A restored run, or an answer that came early, finds its request registered already: nothing is lost.
      const registered = HashMap.get(yield* Ref.get(pending), call.callId)
      const deferred = Option.isSome(registered) && registered.value._tag === "Approval" && registered.value.runId === runId
        ? registered.value.deferred
        : yield* Deferred.make<Decision>()
      yield* register(call.callId, { _tag: "Approval", runId, deferred })
      if (announce) {
        yield* publish(new Event.ApprovalRequested({ runId, callId: call.callId, name: call.name, arguments: call.arguments }))
      }
      const key = callKey(runId, call.callId)
      const waiting = Deferred.await(deferred)
      const decision = deps.timeout === undefined
        ? yield* waiting
        : yield* waiting.pipe(
          Effect.timeoutTo({
            duration: deps.timeout,
            onSuccess: (decision) => Effect.succeed(decision),
            onTimeout: () =>
              Ref.modify(decided, (set) =>
                HashSet.has(set, key)
                  ? [Deferred.await(deferred), set] as const
                  : [
                    Effect.succeed<Decision>({ approved: false, by: "timeout", reason: "the approval request timed out" }),
                    HashSet.add(set, key)
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

  /** Asks a person (the `ask_human` tool) and waits for the answer. */
  const clarify = (runId: string, callId: string, question: string) =>
    Effect.gen(function*() {
      const deferred = yield* Deferred.make<string>()
      yield* register(callId, { _tag: "Clarification", runId, deferred })
      yield* publish(new Event.ClarificationRequested({ callId, question }))
      return yield* Deferred.await(deferred).pipe(Effect.ensuring(Ref.update(pending, HashMap.remove(callId))))
    })

  const refuse = (callId: string, by: string, reason: Event.ApprovalAnswerRefused["reason"]) =>
    publish(new Event.ApprovalAnswerRefused({ callId, by, reason }))

  /** The approval an answer applies to: awaited now, or of a call of the current run still to be asked (kept). */
  const openApproval = (callId: string) =>
    Effect.gen(function*() {
      const entry = HashMap.get(yield* Ref.get(pending), callId)
      if (Option.isSome(entry)) return entry.value._tag === "Approval" ? Option.some(entry.value) : Option.none()
      const run = deps.current()
      if (run === undefined || run.ended || !run.calls.has(callId) || run.answered.has(callId)) return Option.none()
      const early = { _tag: "Approval" as const, runId: run.runId, deferred: yield* Deferred.make<Decision>() }
      yield* register(callId, early)
      return Option.some(early)
    })

  const onAnswer = (event: Event.Event, answer: Event.ApprovalAnswered) =>
    Effect.gen(function*() {
      const entry = yield* openApproval(answer.callId)
      if (Option.isNone(entry)) {
        const run = myCalls.get(answer.callId)
        if (run !== undefined) {
          // This agent's call, no longer waiting: answered already, or it ended without the answer.
          const answered = HashSet.has(yield* Ref.get(decided), callKey(run, answer.callId))
          return yield* refuse(answer.callId, event.author, answered ? "already_answered" : "call_ended")
        }
        // Another agent's call is theirs to judge; a call nobody asked for is refused once.
        if (knownCalls.has(answer.callId) || !(yield* deps.refusesUnknown)) return
        return yield* refuse(answer.callId, event.author, "unknown_call")
      }
      if (!(yield* deps.mayApprove(event.author))) return yield* refuse(answer.callId, event.author, "not_allowed")
      const key = callKey(entry.value.runId, answer.callId)
      const first = yield* Ref.modify(decided, (set) =>
        HashSet.has(set, key) ? [false, set] as const : [true, HashSet.add(set, key)] as const)
      if (!first) return yield* refuse(answer.callId, event.author, "already_answered")
      yield* Deferred.succeed(entry.value.deferred, {
        approved: answer.approved,
        by: event.author,
        reason: answer.reason ?? (answer.approved ? "approved" : "rejected")
      })
    })

  return {
    await: await_,
    clarify,
    onAnswer,
    /** A call was requested (by anyone). */
    onRequested: (event: Event.Event, requested: Event.FunctionCallRequested) =>
      Effect.sync(() => {
        knownCalls.add(requested.callId)
        if (event.author === me) myCalls.set(requested.callId, requested.runId)
      }),
    onClarification: (answer: Event.ClarificationAnswered) =>
      Effect.gen(function*() {
        const entry = HashMap.get(yield* Ref.get(pending), answer.callId)
        if (Option.isSome(entry) && entry.value._tag === "Clarification") yield* Deferred.succeed(entry.value.deferred, answer.answer)
      }),
    /** The run ended: its waits are gone. */
    dropRun: (runId: string) => Ref.update(pending, HashMap.filter((entry) => entry.runId !== runId)),
    /** After a restart: the calls the journal knows, and which of this agent's were answered. */
    restore: (commands: Commands.State) =>
      Effect.gen(function*() {
        for (const command of HashMap.values(commands)) {
          knownCalls.add(command.callId)
          if (command.agent !== me) continue
          myCalls.set(command.callId, command.runId)
          if (command.answeredBy !== null) yield* Ref.update(decided, HashSet.add(callKey(command.runId, command.callId)))
        }
      }),
    /** A resumed run's call waits for its approval: register it now, so an answer arriving before the run gets there is kept. */
    registerResumed: (runId: string, callId: string) =>
      Effect.flatMap(Deferred.make<Decision>(), (deferred) => register(callId, { _tag: "Approval", runId, deferred }))
  }
}

/** An agent's approvals. */
export type Approvals = ReturnType<typeof make>
