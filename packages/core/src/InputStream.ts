/**
 * The human input generator: a stream of what a person does — messages,
 * interrupts, approval answers, clarification answers.
 *
 * A terminal, a web page or a queue in tests provides it; a {@link Human}
 * participant turns it into events.
 *
 * @since 0.1.0
 */
import { Context, Layer, Schema, Stream } from "effect"
import type { Queue } from "effect"
import * as Event from "./Event.js"

/** How a message should be handled by a busy agent (overrides the agent's policy). */
export const BusyPolicy = Event.BusyPolicy
export type BusyPolicy = Event.BusyPolicy

/** A message typed by a person, optionally addressed to participants. */
export class Message extends Schema.TaggedClass<Message>()("Message", {
  text: Schema.String,
  to: Schema.Array(Schema.String),
  policy: Schema.NullOr(BusyPolicy)
}) {}

/** Stop a participant's current run (or the named run). */
export class Interrupt extends Schema.TaggedClass<Interrupt>()("Interrupt", {
  participant: Schema.String,
  runId: Schema.NullOr(Schema.String)
}) {}

/** Approve or reject a function call. */
export class Approval extends Schema.TaggedClass<Approval>()("Approval", {
  callId: Schema.String,
  approved: Schema.Boolean,
  reason: Schema.NullOr(Schema.String)
}) {}

/** Answer a clarification question. */
export class Answer extends Schema.TaggedClass<Answer>()("Answer", {
  callId: Schema.String,
  answer: Schema.String
}) {}

/** Anything a person does. */
export const Input = Schema.Union(Message, Interrupt, Approval, Answer)
export type Input = typeof Input.Type

/** A plain message to everybody (or to the given participants). */
export const message = (text: string, options?: { readonly to?: ReadonlyArray<string>; readonly policy?: BusyPolicy }) =>
  new Message({ text, to: options?.to ?? [], policy: options?.policy ?? null })

/** The service. */
export interface Service {
  readonly stream: Stream.Stream<Input>
}

/** The human input generator tag. */
export class InputStream extends Context.Tag("@chorus/core/InputStream")<InputStream, Service>() {}

/** Input from a stream. */
export const layer = (stream: Stream.Stream<Input>): Layer.Layer<InputStream> =>
  Layer.succeed(InputStream, { stream })

/** Input from a queue: what tests and programs offer to it reaches the participant in order. */
export const layerQueue = (queue: Queue.Dequeue<Input>): Layer.Layer<InputStream> =>
  layer(Stream.fromQueue(queue))
