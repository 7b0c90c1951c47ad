/**
 * Events: what flows through an environment.
 *
 * A participant publishes a {@link Payload}; the environment stamps it into an
 * {@link Event} with a monotonic `sequence`, the `author` and a `timestamp`
 * read from `Clock`. {@link wireName} gives each payload its name on an
 * external wire: OpenResponses names where the standard has one, names with a
 * `chorus.` prefix for Chorus-only events.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as ContextItem from "./ContextItem.js"

const Text = Schema.String

// ---------------------------------------------------------------------------
// Item lifecycle
// ---------------------------------------------------------------------------

/** An item was added, usually still `in_progress`; its deltas follow. */
export class ItemAdded extends Schema.TaggedClass<ItemAdded>()("ItemAdded", {
  item: ContextItem.ContextItem,
  runId: Schema.NullOr(Schema.String)
}) {}

/** A piece of a model message's text. */
export class TextDelta extends Schema.TaggedClass<TextDelta>()("TextDelta", {
  itemId: Schema.String,
  contentIndex: Schema.NonNegativeInt,
  delta: Text
}) {}

/**
 * Builds a `TextDelta` without the class constructor's copy, defaults merge and
 * validation (~0.35 µs a delta, most of a provider's own cost per delta beside
 * `JSON.parse`): a provider's hot path, for fields it has just checked. The
 * result is an ordinary `TextDelta` instance (same prototype, same own fields).
 */
export const unsafeTextDelta = (itemId: string, contentIndex: number, delta: string): TextDelta =>
  new TextDeltaRecord(itemId, contentIndex, delta)

/** A plain constructor sharing `TextDelta.prototype` (see `EventRecord`): ~4× cheaper than `Object.create` plus `Object.assign`. */
const TextDeltaRecord = function(this: { -readonly [K in keyof TextDelta]: TextDelta[K] }, itemId: string, contentIndex: number, delta: string) {
  this.itemId = itemId
  this.contentIndex = contentIndex
  this.delta = delta
  this._tag = "TextDelta"
} as unknown as new(itemId: string, contentIndex: number, delta: string) => TextDelta
TextDeltaRecord.prototype = TextDelta.prototype

/** A piece of a model message's refusal. */
export class RefusalDelta extends Schema.TaggedClass<RefusalDelta>()("RefusalDelta", {
  itemId: Schema.String,
  contentIndex: Schema.NonNegativeInt,
  delta: Text
}) {}

/** A piece of a reasoning summary. */
export class ReasoningSummaryDelta extends Schema.TaggedClass<ReasoningSummaryDelta>()("ReasoningSummaryDelta", {
  itemId: Schema.String,
  summaryIndex: Schema.NonNegativeInt,
  delta: Text
}) {}

/** A piece of reasoning content. */
export class ReasoningDelta extends Schema.TaggedClass<ReasoningDelta>()("ReasoningDelta", {
  itemId: Schema.String,
  contentIndex: Schema.NonNegativeInt,
  delta: Text
}) {}

/** A piece of a function call's JSON arguments. */
export class FunctionCallArgumentsDelta extends Schema.TaggedClass<FunctionCallArgumentsDelta>()(
  "FunctionCallArgumentsDelta",
  {
    itemId: Schema.String,
    delta: Text
  }
) {}

/** How a message should be handled by a busy agent (overrides the agent's own policy). */
export const BusyPolicy = Schema.Literal("queue", "steer", "interrupt", "drop")
export type BusyPolicy = typeof BusyPolicy.Type

/**
 * An item is finished (`completed` or `incomplete`); it carries the whole item.
 * A message may be addressed to participants (`to`, empty for everybody) and
 * carry the policy a busy agent should apply to it.
 */
export class ItemDone extends Schema.TaggedClass<ItemDone>()("ItemDone", {
  item: ContextItem.ContextItem,
  runId: Schema.NullOr(Schema.String),
  to: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  policy: Schema.optionalWith(Schema.NullOr(BusyPolicy), { default: () => null })
}) {}

/** Deltas: the events a lagging subscriber may receive coalesced. */
export type Delta = TextDelta | RefusalDelta | ReasoningSummaryDelta | ReasoningDelta | FunctionCallArgumentsDelta

// ---------------------------------------------------------------------------
// Inference lifecycle
// ---------------------------------------------------------------------------

/** Token usage of one inference. */
export class Usage extends Schema.Class<Usage>("Usage")({
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  totalTokens: Schema.NonNegativeInt,
  cachedInputTokens: Schema.NonNegativeInt,
  reasoningTokens: Schema.NonNegativeInt
}) {
  /** No tokens. */
  static readonly zero = new Usage({
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cachedInputTokens: 0,
    reasoningTokens: 0
  })
}

/** An inference (one model request) started. */
export class InferenceStarted extends Schema.TaggedClass<InferenceStarted>()("InferenceStarted", {
  runId: Schema.String,
  inferenceId: Schema.String,
  model: Schema.NullOr(Schema.String)
}) {}

/** An inference finished; `incompleteReason` is set when the model stopped early (e.g. max tokens). */
export class InferenceCompleted extends Schema.TaggedClass<InferenceCompleted>()("InferenceCompleted", {
  runId: Schema.String,
  inferenceId: Schema.String,
  usage: Usage,
  incompleteReason: Schema.NullOr(Schema.String)
}) {}

/** An inference failed. */
export class InferenceFailed extends Schema.TaggedClass<InferenceFailed>()("InferenceFailed", {
  runId: Schema.String,
  inferenceId: Schema.String,
  error: Schema.String,
  reason: Schema.String
}) {}

/** An inference was interrupted; its partial items were closed as `incomplete`. */
export class InferenceInterrupted extends Schema.TaggedClass<InferenceInterrupted>()("InferenceInterrupted", {
  runId: Schema.String,
  inferenceId: Schema.String
}) {}

// ---------------------------------------------------------------------------
// Function-call lifecycle, keyed by call id
// ---------------------------------------------------------------------------

/** A model asked for a function call. */
export class FunctionCallRequested extends Schema.TaggedClass<FunctionCallRequested>()("FunctionCallRequested", {
  runId: Schema.String,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String
}) {}

/** The call waits for an approval from a participant allowed to give it. */
export class ApprovalRequested extends Schema.TaggedClass<ApprovalRequested>()("ApprovalRequested", {
  runId: Schema.String,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String
}) {}

/** A participant answers an approval request (published by a human or a UI). */
export class ApprovalAnswered extends Schema.TaggedClass<ApprovalAnswered>()("ApprovalAnswered", {
  callId: Schema.String,
  approved: Schema.Boolean,
  reason: Schema.NullOr(Schema.String)
}) {}

/** The call was approved. */
export class FunctionCallApproved extends Schema.TaggedClass<FunctionCallApproved>()("FunctionCallApproved", {
  callId: Schema.String,
  by: Schema.String
}) {}

/** The call was rejected (by a participant, or by the approval timeout). */
export class FunctionCallRejected extends Schema.TaggedClass<FunctionCallRejected>()("FunctionCallRejected", {
  callId: Schema.String,
  by: Schema.String,
  reason: Schema.String
}) {}

/**
 * An answer was not applied: a second answer, an unknown call id, a participant without the right,
 * or a call that ended without it (cancelled by a stop or a restart).
 */
export class ApprovalAnswerRefused extends Schema.TaggedClass<ApprovalAnswerRefused>()("ApprovalAnswerRefused", {
  callId: Schema.String,
  by: Schema.String,
  reason: Schema.Literal("already_answered", "unknown_call", "not_allowed", "call_ended")
}) {}

/** The call started running. */
export class FunctionCallStarted extends Schema.TaggedClass<FunctionCallStarted>()("FunctionCallStarted", {
  callId: Schema.String,
  name: Schema.String
}) {}

/** Progress reported by a running call. */
export class FunctionCallProgress extends Schema.TaggedClass<FunctionCallProgress>()("FunctionCallProgress", {
  callId: Schema.String,
  progress: Schema.Finite,
  total: Schema.NullOr(Schema.Finite),
  message: Schema.NullOr(Schema.String)
}) {}

/** The call finished with an output (which may be an error output the model will see). */
export class FunctionCallCompleted extends Schema.TaggedClass<FunctionCallCompleted>()("FunctionCallCompleted", {
  callId: Schema.String,
  isError: Schema.Boolean
}) {}

/** The call failed: its output is an error the model will see. */
export class FunctionCallFailed extends Schema.TaggedClass<FunctionCallFailed>()("FunctionCallFailed", {
  callId: Schema.String,
  error: Schema.String
}) {}

/** The call was cancelled (interrupt, restart, rejected approval) before it produced an output. */
export class FunctionCallCancelled extends Schema.TaggedClass<FunctionCallCancelled>()("FunctionCallCancelled", {
  callId: Schema.String,
  reason: Schema.String
}) {}

// ---------------------------------------------------------------------------
// Input disposition: what happened to a message that reached a busy participant
// ---------------------------------------------------------------------------

/** The message waits in the participant's queue. */
export class InputQueued extends Schema.TaggedClass<InputQueued>()("InputQueued", {
  participant: Schema.String,
  itemId: Schema.String,
  position: Schema.Finite
}) {}

/** The message was steered into the current run. */
export class InputSteered extends Schema.TaggedClass<InputSteered>()("InputSteered", {
  participant: Schema.String,
  itemId: Schema.String,
  runId: Schema.String
}) {}

/** The message was refused. */
export class InputDropped extends Schema.TaggedClass<InputDropped>()("InputDropped", {
  participant: Schema.String,
  itemId: Schema.String,
  reason: Schema.String
}) {}

/** A queued message is now being handled. */
export class InputDequeued extends Schema.TaggedClass<InputDequeued>()("InputDequeued", {
  participant: Schema.String,
  itemId: Schema.String,
  runId: Schema.String
}) {}

// ---------------------------------------------------------------------------
// Participants and runs
// ---------------------------------------------------------------------------

/** Kinds of participant. */
export const ParticipantKind = Schema.Literal("agent", "human", "observer")
export type ParticipantKind = typeof ParticipantKind.Type

/** A participant joined. */
export class ParticipantJoined extends Schema.TaggedClass<ParticipantJoined>()("ParticipantJoined", {
  participant: Schema.String,
  kind: ParticipantKind
}) {}

/** A participant left. */
export class ParticipantLeft extends Schema.TaggedClass<ParticipantLeft>()("ParticipantLeft", {
  participant: Schema.String
}) {}

/** A participant failed; `cause` is the rendered cause. */
export class ParticipantFailed extends Schema.TaggedClass<ParticipantFailed>()("ParticipantFailed", {
  participant: Schema.String,
  cause: Schema.String
}) {}

/** A failed participant was restarted by its supervision schedule. */
export class ParticipantRestarted extends Schema.TaggedClass<ParticipantRestarted>()("ParticipantRestarted", {
  participant: Schema.String,
  attempt: Schema.Finite
}) {}

/** Somebody asked to stop a participant's current run (or the named run). */
export class InterruptRequested extends Schema.TaggedClass<InterruptRequested>()("InterruptRequested", {
  participant: Schema.String,
  runId: Schema.NullOr(Schema.String)
}) {}

/** An interrupt had no effect: the participant was idle, or the named run had already ended. */
export class InterruptIgnored extends Schema.TaggedClass<InterruptIgnored>()("InterruptIgnored", {
  participant: Schema.String,
  runId: Schema.NullOr(Schema.String),
  reason: Schema.String
}) {}

/**
 * States of an agent, spelled like the `Commands` statuses (`awaiting_approval`). Journals written
 * before used hyphens (`function-calls`, `awaiting-approval`): they still decode, to the new spelling.
 */
export const AgentState = Schema.Union(
  Schema.Literal("idle", "inference", "function_calls", "awaiting_approval"),
  Schema.transformLiterals(["function-calls", "function_calls"], ["awaiting-approval", "awaiting_approval"])
)
export type AgentState = typeof AgentState.Type

/** An agent moved from one state to another. */
export class StateChanged extends Schema.TaggedClass<StateChanged>()("StateChanged", {
  participant: Schema.String,
  runId: Schema.NullOr(Schema.String),
  from: AgentState,
  to: AgentState
}) {}

/** An agent started a run, triggered by an item. */
export class RunStarted extends Schema.TaggedClass<RunStarted>()("RunStarted", {
  participant: Schema.String,
  runId: Schema.String,
  trigger: Schema.NullOr(Schema.String)
}) {}

/** How a run ended. */
export const RunOutcome = Schema.Literal("completed", "interrupted", "failed", "turn_limit", "exchange_cap", "skipped")
export type RunOutcome = typeof RunOutcome.Type

/** An agent's run ended. */
export class RunEnded extends Schema.TaggedClass<RunEnded>()("RunEnded", {
  participant: Schema.String,
  runId: Schema.String,
  outcome: RunOutcome,
  detail: Schema.NullOr(Schema.String)
}) {}

/** A run was interrupted; lists what it cut short. */
export class RunInterrupted extends Schema.TaggedClass<RunInterrupted>()("RunInterrupted", {
  participant: Schema.String,
  runId: Schema.String,
  incompleteItems: Schema.Array(Schema.String),
  cancelledCalls: Schema.Array(Schema.String)
}) {}

/** A hook failed; the agent went back to idle. */
export class HookFailed extends Schema.TaggedClass<HookFailed>()("HookFailed", {
  participant: Schema.String,
  runId: Schema.NullOr(Schema.String),
  hook: Schema.String,
  error: Schema.String
}) {}

/** A clarification question from an agent to a person (the `ask_human` tool). */
export class ClarificationRequested extends Schema.TaggedClass<ClarificationRequested>()("ClarificationRequested", {
  callId: Schema.String,
  question: Schema.String
}) {}

/** A person's answer to a clarification question. */
export class ClarificationAnswered extends Schema.TaggedClass<ClarificationAnswered>()("ClarificationAnswered", {
  callId: Schema.String,
  answer: Schema.String
}) {}

/** The journal's torn last line was cut off when the environment opened it. */
export class JournalRepaired extends Schema.TaggedClass<JournalRepaired>()("JournalRepaired", {
  line: Schema.Finite,
  bytes: Schema.Finite
}) {}

/**
 * The journal has been failing for longer than the environment tolerates (a
 * backlog of `unwritten` events from sequence `since`): `flush` fails fast
 * until it recovers, so no side effect starts without a durable record.
 * Nothing is dropped: the writer keeps retrying and catches up.
 */
export class JournalDegraded extends Schema.TaggedClass<JournalDegraded>()("JournalDegraded", {
  error: Schema.String,
  since: Schema.Finite,
  unwritten: Schema.Finite
}) {}

/** The journal is writable again: the `written` events held back during the outage are durable now. */
export class JournalRecovered extends Schema.TaggedClass<JournalRecovered>()("JournalRecovered", {
  written: Schema.Finite,
  downtimeMillis: Schema.Finite
}) {}

// ---------------------------------------------------------------------------
// MCP elicitation, keyed by elicitation id (and by the call that caused it)
// ---------------------------------------------------------------------------

/** What a person may answer to an elicitation. */
export const ElicitationAction = Schema.Literal("accept", "decline", "cancel")
export type ElicitationAction = typeof ElicitationAction.Type

/**
 * Form values of an elicitation answer: strings, finite numbers, booleans, arrays of strings. Numbers are finite
 * because the journal writes JSON, which has no `NaN` or `Infinity`: such an answer would be written as `null`
 * and the journal could not be read back.
 */
export const ElicitationContent = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.String, Schema.Finite, Schema.Boolean, Schema.Array(Schema.String))
})
export type ElicitationContent = typeof ElicitationContent.Type

/**
 * An MCP server asks a person for input (`elicitation/create`) during a call: the message and the requested
 * schema (a flat JSON Schema object of primitive fields), as the server sent them.
 */
export class ElicitationRequested extends Schema.TaggedClass<ElicitationRequested>()("ElicitationRequested", {
  elicitationId: Schema.String,
  /** The call during which the server asked, when one was running on that server. */
  callId: Schema.NullOr(Schema.String),
  server: Schema.String,
  message: Schema.String,
  requestedSchema: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/** A participant answers an elicitation (published by a human, a UI or code). */
export class ElicitationAnswered extends Schema.TaggedClass<ElicitationAnswered>()("ElicitationAnswered", {
  elicitationId: Schema.String,
  action: ElicitationAction,
  content: Schema.NullOr(ElicitationContent)
}) {}

/** An answer was applied: this action (and the content, defaults filled in) went back to the server. */
export class ElicitationResolved extends Schema.TaggedClass<ElicitationResolved>()("ElicitationResolved", {
  elicitationId: Schema.String,
  action: ElicitationAction,
  by: Schema.String,
  content: Schema.NullOr(ElicitationContent)
}) {}

/** An answer was not applied: unknown request, already answered, a participant without the right, invalid content. */
export class ElicitationAnswerRefused extends Schema.TaggedClass<ElicitationAnswerRefused>()(
  "ElicitationAnswerRefused",
  {
    elicitationId: Schema.String,
    by: Schema.String,
    reason: Schema.Literal("unknown_request", "already_answered", "not_allowed", "invalid_content"),
    detail: Schema.NullOr(Schema.String)
  }
) {}

/** A pending elicitation ended without an answer: its call was interrupted or ended, or the server was lost. */
export class ElicitationCancelled extends Schema.TaggedClass<ElicitationCancelled>()("ElicitationCancelled", {
  elicitationId: Schema.String,
  reason: Schema.String
}) {}

/**
 * An MCP server needs a person to authorize access (OAuth authorization code): open `url` in a browser; the
 * redirect comes back to the client on 127.0.0.1. The URL holds no secret (PKCE keeps the code useless to others).
 */
export class AuthorizationRequested extends Schema.TaggedClass<AuthorizationRequested>()("AuthorizationRequested", {
  server: Schema.String,
  url: Schema.String
}) {}

/** Any event payload. */
export const Payload = Schema.Union(
  ItemAdded,
  TextDelta,
  RefusalDelta,
  ReasoningSummaryDelta,
  ReasoningDelta,
  FunctionCallArgumentsDelta,
  ItemDone,
  InferenceStarted,
  InferenceCompleted,
  InferenceFailed,
  InferenceInterrupted,
  FunctionCallRequested,
  ApprovalRequested,
  ApprovalAnswered,
  FunctionCallApproved,
  FunctionCallRejected,
  ApprovalAnswerRefused,
  FunctionCallStarted,
  FunctionCallProgress,
  FunctionCallCompleted,
  FunctionCallFailed,
  FunctionCallCancelled,
  InputQueued,
  InputSteered,
  InputDropped,
  InputDequeued,
  ParticipantJoined,
  ParticipantLeft,
  ParticipantFailed,
  ParticipantRestarted,
  InterruptRequested,
  InterruptIgnored,
  StateChanged,
  RunStarted,
  RunEnded,
  RunInterrupted,
  HookFailed,
  ClarificationRequested,
  ClarificationAnswered,
  JournalRepaired,
  JournalDegraded,
  JournalRecovered,
  ElicitationRequested,
  ElicitationAnswered,
  ElicitationResolved,
  ElicitationAnswerRefused,
  ElicitationCancelled,
  AuthorizationRequested
)
export type Payload = typeof Payload.Type

/** A stamped event: a payload with the environment's sequence, its author and a `Clock` timestamp (ms). */
export class Event extends Schema.Class<Event>("Event")({
  sequence: Schema.NonNegativeInt,
  author: Schema.String,
  timestamp: Schema.Finite,
  payload: Payload
}) {}

/**
 * Builds a stamped event without the class constructor's defaults merge and
 * validation: the environment's hot path, for fields it has just produced.
 * The result is an ordinary `Event` instance (same prototype, same own fields).
 */
export const unsafeMake = (fields: {
  readonly sequence: number
  readonly author: string
  readonly timestamp: number
  readonly payload: Payload
}): Event => new EventRecord(fields.sequence, fields.author, fields.timestamp, fields.payload)

/**
 * A plain constructor sharing `Event.prototype`: V8 gives what it builds a
 * fixed shape with in-object fields, cheaper than `Object.create` plus
 * `Object.assign`, and `instanceof Event` holds.
 */
const EventRecord = function(this: { -readonly [K in keyof Event]: Event[K] }, sequence: number, author: string, timestamp: number, payload: Payload) {
  this.sequence = sequence
  this.author = author
  this.timestamp = timestamp
  this.payload = payload
} as unknown as new(sequence: number, author: string, timestamp: number, payload: Payload) => Event
EventRecord.prototype = Event.prototype

/** Events in their JSON form, for journals and wires. */
export const Json = Schema.parseJson(Event)

/** Is this payload a delta (the only kind a lagging subscriber may receive coalesced)? */
export const isDelta = (payload: Payload): payload is Delta =>
  payload._tag === "TextDelta" ||
  payload._tag === "RefusalDelta" ||
  payload._tag === "ReasoningSummaryDelta" ||
  payload._tag === "ReasoningDelta" ||
  payload._tag === "FunctionCallArgumentsDelta"

/** The item a payload belongs to, if any. */
export const itemIdOf = (payload: Payload): string | undefined => {
  switch (payload._tag) {
    case "ItemAdded":
    case "ItemDone":
      return payload.item.id
    case "TextDelta":
    case "RefusalDelta":
    case "ReasoningSummaryDelta":
    case "ReasoningDelta":
    case "FunctionCallArgumentsDelta":
      return payload.itemId
    default:
      return undefined
  }
}

const wireNames: { readonly [K in Payload["_tag"]]: string } = {
  ItemAdded: "response.output_item.added",
  TextDelta: "response.output_text.delta",
  RefusalDelta: "response.refusal.delta",
  ReasoningSummaryDelta: "response.reasoning_summary_text.delta",
  ReasoningDelta: "response.reasoning_text.delta",
  FunctionCallArgumentsDelta: "response.function_call_arguments.delta",
  ItemDone: "response.output_item.done",
  InferenceStarted: "response.in_progress",
  InferenceCompleted: "response.completed",
  InferenceFailed: "response.failed",
  InferenceInterrupted: "chorus.inference.interrupted",
  FunctionCallRequested: "chorus.function_call.requested",
  ApprovalRequested: "chorus.function_call.approval_requested",
  ApprovalAnswered: "chorus.function_call.approval_answered",
  FunctionCallApproved: "chorus.function_call.approved",
  FunctionCallRejected: "chorus.function_call.rejected",
  ApprovalAnswerRefused: "chorus.function_call.approval_refused",
  FunctionCallStarted: "chorus.function_call.started",
  FunctionCallProgress: "chorus.function_call.progress",
  FunctionCallCompleted: "chorus.function_call.completed",
  FunctionCallFailed: "chorus.function_call.failed",
  FunctionCallCancelled: "chorus.function_call.cancelled",
  InputQueued: "chorus.input.queued",
  InputSteered: "chorus.input.steered",
  InputDropped: "chorus.input.dropped",
  InputDequeued: "chorus.input.dequeued",
  ParticipantJoined: "chorus.participant.joined",
  ParticipantLeft: "chorus.participant.left",
  ParticipantFailed: "chorus.participant.failed",
  ParticipantRestarted: "chorus.participant.restarted",
  InterruptRequested: "chorus.interrupt.requested",
  InterruptIgnored: "chorus.interrupt.ignored",
  StateChanged: "chorus.agent.state_changed",
  RunStarted: "chorus.run.started",
  RunEnded: "chorus.run.ended",
  RunInterrupted: "chorus.run.interrupted",
  HookFailed: "chorus.hook.failed",
  ClarificationRequested: "chorus.clarification.requested",
  ClarificationAnswered: "chorus.clarification.answered",
  JournalRepaired: "chorus.journal.repaired",
  JournalDegraded: "chorus.journal.degraded",
  JournalRecovered: "chorus.journal.recovered",
  ElicitationRequested: "chorus.elicitation.requested",
  ElicitationAnswered: "chorus.elicitation.answered",
  ElicitationResolved: "chorus.elicitation.resolved",
  ElicitationAnswerRefused: "chorus.elicitation.answer_refused",
  ElicitationCancelled: "chorus.elicitation.cancelled",
  AuthorizationRequested: "chorus.authorization.requested"
}

/** The event's name on an external wire: OpenResponses names, or `chorus.`-prefixed extensions. */
export const wireName = (payload: Payload): string => wireNames[payload._tag]
