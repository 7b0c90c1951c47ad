/**
 * An agent's approvals, as pure decisions: a state that is data (the approvals of the run going,
 * by run and call id — providers reuse call ids across responses), inputs, and commands.
 *
 * A call whose policy asks for approval reports it (`ApprovalNeeded`, once its
 * `beforeFunctionCall` has run); the decision is the command that asks (`AskApproval`: the request
 * published from the call's slot). Once the agent has folded its own `ApprovalRequested`, an
 * answer applies: approved, the call starts past its approval (`StartCall` at `approved`);
 * rejected or timed out, it is denied (`DenyCall`). The timeout is a command too
 * (`ApprovalTimer`: a sleep on `Clock` in the call's slot that reports `ApprovalTimedOut`), so it
 * is testable on `TestClock` and gone once the call is answered or the run stops.
 *
 * After a restart nothing special happens: the fold of the journal resumes a call at stage
 * `awaiting_approval`, the controller starts it there (`StartCall`), and {@link react} makes it
 * pending again — an answer kept meanwhile applies, or its timer starts. An answer that arrives
 * before its request is kept and applied when the request is folded; every answer with no effect
 * is refused visibly (`ApprovalAnswerRefused`), an answer for a call nobody asked by one agent
 * only, so once.
 *
 * Clarification questions (`ask_human`) have the same shape: the call reports `QuestionAsked`, the
 * decision asks (`AskQuestion`), and the answer finishes the call (`AnswerQuestion`). A question
 * does not outlive a restart: its call had started, so resume answers it as interrupted.
 *
 * @internal
 */
import { Chunk, Data, type Duration, HashMap, HashSet, Option } from "effect"
import type * as Commands from "../../Commands.js"
import type * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import * as Controller from "./controller.js"

/** Calls are identified by run and call id. */
export const callKey = (runId: string, callId: string): string => `${runId}\u0000${callId}`

/** How an approval was decided. */
export interface Decision {
  readonly approved: boolean
  readonly by: string
  readonly reason: string
}

/** A call's approval in the run going. */
export interface Approval {
  readonly _tag: "Approval"
  readonly runId: string
  readonly callId: string
  /** The call as asked (after `beforeFunctionCall`); null while only an early answer is known. */
  readonly call: ContextItem.FunctionCall | null
  /** Its `ApprovalRequested` is folded (or, after a restart, was journaled): an answer applies now. */
  readonly requested: boolean
  /** The answer decided; an early one is kept until the request. */
  readonly decision: Decision | null
}

/** An `ask_human` call's question, asked and not answered yet. */
export interface Question {
  readonly _tag: "Question"
  readonly runId: string
  readonly callId: string
  readonly call: ContextItem.FunctionCall
}

/** The approvals and questions of the run going, by run and call id. */
export type State = HashMap.HashMap<string, Approval | Question>

export const initial: State = HashMap.empty()

/** What approvals decide on (besides the controller's own inputs, see {@link react}). */
export type Input = Data.TaggedEnum<{
  /** A call of run `runId` needs approval (its `beforeFunctionCall` has run): the call as it will be asked. */
  ApprovalNeeded: { readonly runId: string; readonly call: ContextItem.FunctionCall }
  /** A requested call's approval timer fired. */
  ApprovalTimedOut: { readonly runId: string; readonly callId: string }
  /**
   * An `ApprovalAnswered`, with its facts: whether its author may approve, whether this agent is the one
   * that refuses answers for calls nobody asked, and the journal's record of the call, if any.
   */
  Answered: {
    readonly callId: string
    readonly by: string
    readonly approved: boolean
    readonly reason: string | null
    readonly allowed: boolean
    readonly refusesUnknown: boolean
    readonly known: Commands.Command | null
  }
  /** An `ask_human` call of run `runId` asks a person `question`. */
  QuestionAsked: { readonly runId: string; readonly call: ContextItem.FunctionCall; readonly question: string }
  /** A `ClarificationAnswered`. */
  Clarified: { readonly callId: string; readonly answer: string }
}>

export const Input = Data.taggedEnum<Input>()

/** What the interpreter runs for approvals (with the controller's `Publish` and `StartCall`). */
export type Command = Data.TaggedEnum<{
  /** Ask for a call's approval: its `ApprovalRequested`, published from the call's slot. */
  AskApproval: { readonly runId: string; readonly call: ContextItem.FunctionCall }
  /** A requested call's timeout: a sleep on `Clock` in the call's slot, then `ApprovalTimedOut`. */
  ApprovalTimer: { readonly runId: string; readonly callId: string; readonly after: Duration.Duration }
  /** Deny a call (rejected, or timed out): published from the call's slot, with its error output. */
  DenyCall: { readonly runId: string; readonly call: ContextItem.FunctionCall; readonly by: string; readonly reason: string }
  /** Ask a person an `ask_human` call's question: its `ClarificationRequested`, published from the call's slot. */
  AskQuestion: { readonly runId: string; readonly callId: string; readonly question: string }
  /** Finish an `ask_human` call with the person's answer, in the call's slot. */
  AnswerQuestion: { readonly runId: string; readonly call: ContextItem.FunctionCall; readonly answer: string }
}>

export const Command = Data.taggedEnum<Command>()

export const isInput = (input: { readonly _tag: string }): input is Input =>
  input._tag === "ApprovalNeeded" || input._tag === "ApprovalTimedOut" || input._tag === "Answered" ||
  input._tag === "QuestionAsked" || input._tag === "Clarified"

export type Transition = readonly [State, ReadonlyArray<Controller.Command | Command>]

const timedOut: Decision = { approved: false, by: "timeout", reason: "the approval request timed out" }

const nothing = (state: State): Transition => [state, []]

const set = (state: State, entry: Approval | Question): State => HashMap.set(state, callKey(entry.runId, entry.callId), entry)

const get = (state: State, runId: string, callId: string): Approval | undefined => {
  const entry = Option.getOrUndefined(HashMap.get(state, callKey(runId, callId)))
  return entry?._tag === "Approval" ? entry : undefined
}

/** The run going's step, if it is run `runId` and not ending. */
const going = (controller: Controller.State, runId: string): Controller.Step | null => {
  const step = controller.step
  return step !== null && step.runId === runId && step.at !== "ending" ? step : null
}

/** A call of the run going without its output yet: produced, waiting, or started. */
const isOpen = (step: Controller.Step, callId: string): boolean =>
  HashSet.has(step.open, callId) ||
  Chunk.some(step.waiting, ([call]) => call.callId === callId) ||
  Chunk.some(step.produced, (call) => call.callId === callId)

/** Applies a decision to a requested call: approved, it starts past its approval; else it is denied. */
const apply = (state: State, approval: Approval, call: ContextItem.FunctionCall, decision: Decision): Transition => [
  set(state, { ...approval, call, requested: true, decision }),
  decision.approved
    ? [
      Controller.Command.Publish({ payload: new Event.FunctionCallApproved({ callId: call.callId, by: decision.by }) }),
      Controller.Command.StartCall({ runId: approval.runId, call, stage: "approved" })
    ]
    : [Command.DenyCall({ runId: approval.runId, call, by: decision.by, reason: decision.reason })]
]

/** A requested call waits for its answer: its timer, if approvals time out. */
const wait = (settings: Controller.Settings, runId: string, callId: string): Array<Command> =>
  settings.approvalTimeout === undefined ? [] : [Command.ApprovalTimer({ runId, callId, after: settings.approvalTimeout })]

/** A call needs approval: ask for it (an answer that came early is kept for the request). */
const needed = (controller: Controller.State, state: State, runId: string, call: ContextItem.FunctionCall): Transition => {
  const step = going(controller, runId)
  if (step === null || !HashSet.has(step.open, call.callId)) return nothing(state)
  const early = get(state, runId, call.callId)?.decision ?? null
  return [
    set(state, { _tag: "Approval", runId, callId: call.callId, call, requested: false, decision: early }),
    [Command.AskApproval({ runId, call })]
  ]
}

/** A requested call's timer fired: it is denied, unless it was answered meanwhile. */
const timeout = (controller: Controller.State, state: State, runId: string, callId: string): Transition => {
  const approval = get(state, runId, callId)
  if (going(controller, runId) === null || approval?.call == null || !approval.requested || approval.decision !== null) {
    return nothing(state)
  }
  return apply(state, approval, approval.call, timedOut)
}

const refuse = (state: State, callId: string, by: string, reason: Event.ApprovalAnswerRefused["reason"]): Transition => [
  state,
  [Controller.Command.Publish({ payload: new Event.ApprovalAnswerRefused({ callId, by, reason }) })]
]

/** An answer: applied to a requested call, kept for a call of the run not yet asked, or refused visibly. */
const answered = (
  settings: Controller.Settings,
  controller: Controller.State,
  state: State,
  input: Extract<Input, { _tag: "Answered" }>
): Transition => {
  const { by, callId, known } = input
  const step = controller.step
  const mine = known !== null && known.agent === settings.me ? known : null
  if (step === null || step.at === "ending" || !isOpen(step, callId)) {
    if (mine !== null) {
      // This agent's call, no longer waiting: answered already, or it ended without the answer.
      const decided = mine.answeredBy !== null || get(state, mine.runId, callId)?.decision != null
      return refuse(state, callId, by, decided ? "already_answered" : "call_ended")
    }
    // Another agent's call is theirs to judge; a call nobody asked for is refused once.
    if (known !== null || !input.refusesUnknown) return nothing(state)
    return refuse(state, callId, by, "unknown_call")
  }
  if (!input.allowed) return refuse(state, callId, by, "not_allowed")
  // A question (`ask_human`) is not approved: the answer has no effect.
  if (Option.exists(HashMap.get(state, callKey(step.runId, callId)), (entry) => entry._tag === "Question")) {
    return refuse(state, callId, by, "call_ended")
  }
  const approval: Approval = get(state, step.runId, callId) ??
    { _tag: "Approval", runId: step.runId, callId, call: null, requested: false, decision: null }
  // Answered already (live, or, after a restart, as the journal says).
  if (approval.decision !== null || (mine?.runId === step.runId && mine.answeredBy !== null)) {
    return refuse(state, callId, by, "already_answered")
  }
  const decision: Decision = { approved: input.approved, by, reason: input.reason ?? (input.approved ? "approved" : "rejected") }
  if (approval.requested && approval.call !== null) return apply(state, approval, approval.call, decision)
  // Early (its request is not folded yet): kept, applied when it is.
  return [set(state, { ...approval, decision }), []]
}

/** Decides on an approval input, reading the controller's state. */
export const decide = (
  settings: Controller.Settings,
  controller: Controller.State,
  state: State,
  input: Input
): Transition => {
  switch (input._tag) {
    case "ApprovalNeeded":
      return needed(controller, state, input.runId, input.call)
    case "ApprovalTimedOut":
      return timeout(controller, state, input.runId, input.callId)
    case "Answered":
      return answered(settings, controller, state, input)
    case "QuestionAsked": {
      const step = going(controller, input.runId)
      if (step === null || !HashSet.has(step.open, input.call.callId)) return nothing(state)
      return [
        set(state, { _tag: "Question", runId: input.runId, callId: input.call.callId, call: input.call }),
        [Command.AskQuestion({ runId: input.runId, callId: input.call.callId, question: input.question })]
      ]
    }
    case "Clarified": {
      // The question of the run going, if it is still asked (a second answer, or one for no question, is ignored).
      const runId = controller.step?.runId
      const key = runId === undefined ? undefined : callKey(runId, input.callId)
      const entry = key === undefined ? undefined : Option.getOrUndefined(HashMap.get(state, key))
      if (key === undefined || entry?._tag !== "Question" || going(controller, entry.runId) === null) return nothing(state)
      return [HashMap.remove(state, key), [Command.AnswerQuestion({ runId: entry.runId, call: entry.call, answer: input.answer })]]
    }
  }
}

/**
 * What approvals add to a decision of the controller: a run that is no longer going leaves no
 * approval behind; the agent's own `ApprovalRequested` lets a kept answer apply, or starts the wait;
 * a call started at `awaiting_approval` (resumed after a restart) is pending again.
 */
export const react = (
  settings: Controller.Settings,
  controller: Controller.State,
  state: State,
  input: Controller.Input,
  commands: ReadonlyArray<Controller.Command>
): Transition => {
  let next = controller.running === null
    ? initial
    : HashMap.size(state) === 0
    ? state
    : HashMap.filter(state, (approval) => approval.runId === controller.running)
  const more: Array<Controller.Command | Command> = []
  if (input._tag === "Reported" && input.payload._tag === "ApprovalRequested") {
    const step = going(controller, input.runId)
    const approval = get(next, input.runId, input.payload.callId)
    if (step !== null && step.at === "calls" && approval?.call != null && !approval.requested) {
      if (approval.decision !== null) {
        const [after, applied] = apply(next, approval, approval.call, approval.decision)
        next = after
        more.push(...applied)
      } else {
        next = set(next, { ...approval, requested: true })
        more.push(...wait(settings, input.runId, approval.callId))
      }
    }
  }
  for (const command of commands) {
    if (command._tag !== "StartCall" || command.stage !== "awaiting_approval") continue
    const { call, runId } = command
    const early = get(next, runId, call.callId)?.decision ?? null
    const approval: Approval = { _tag: "Approval", runId, callId: call.callId, call, requested: true, decision: null }
    if (early !== null) {
      const [after, applied] = apply(next, approval, call, early)
      next = after
      more.push(...applied)
    } else {
      next = set(next, approval)
      more.push(...wait(settings, runId, call.callId))
    }
  }
  return [next, more]
}
