/**
 * Payloads the environment makes itself (joins, leaves, failures): built by
 * prototype, as `Event.unsafeMake` builds events. Their fields come from
 * typed values the environment holds, so the class constructor's validation
 * and default merging (a few µs per event, on the path of every join and
 * leave) would check nothing new. The result is what `new X(fields, true)`
 * builds: the same prototype, the same own fields, `_tag` last.
 *
 * Deltas rebuilt from their stored fields (the journals' reads) are made the
 * same way, by `delta`.
 *
 * @internal
 */
import { Schema } from "effect"
import * as Event from "../../Event.js"

type Fields<A> = { readonly [K in Exclude<keyof A, "_tag">]: A[K] }

export const make = <A extends Event.Payload>(
  Class: { readonly prototype: A; readonly _tag: A["_tag"] },
  fields: Fields<A>
): A => {
  const payload = Object.assign(Object.create(Class.prototype) as A, fields)
  ;(payload as { _tag: string })._tag = Class._tag
  return payload
}

/**
 * A delta of kind `tag`, built like {@link make} (by a plain constructor on
 * the class's prototype: the same own fields in the same order, `_tag`
 * last): `index` is its content index (its summary index for a reasoning
 * summary; unused for function call arguments). For stores that keep a delta
 * by its fields and rebuild it.
 */
export const delta = (tag: Event.Delta["_tag"], itemId: string, index: number, text: string): Event.Delta => {
  switch (tag) {
    case "TextDelta":
      return Event.unsafeTextDelta(itemId, index, text)
    case "RefusalDelta":
      return new RefusalDelta(itemId, index, text)
    case "ReasoningSummaryDelta":
      return new ReasoningSummaryDelta(itemId, index, text)
    case "ReasoningDelta":
      return new ReasoningDelta(itemId, index, text)
    case "FunctionCallArgumentsDelta":
      return new FunctionCallArgumentsDelta(itemId, index, text)
  }
}

/**
 * Are the delta classes' fields the ones {@link delta} builds, in this order
 * (beside `_tag`), each of the schema a reader of stored deltas checks:
 * `itemId` a string, the index a non-negative integer, `delta` a string?
 * The journals' readers of deltas by their fields give up otherwise, as they
 * would build something the Schema decode does not.
 */
export const deltaFieldsKnown = (): boolean => (fieldsKnown ??= deltaFieldsAre())
let fieldsKnown: boolean | undefined = undefined

const deltaFieldsAre = (): boolean => {
  const indexed = { itemId: Schema.String, contentIndex: Schema.NonNegativeInt, delta: Schema.String }
  return fieldsAre(Event.TextDelta.fields, indexed) && fieldsAre(Event.RefusalDelta.fields, indexed) &&
    fieldsAre(Event.ReasoningDelta.fields, indexed) &&
    fieldsAre(Event.ReasoningSummaryDelta.fields, { itemId: Schema.String, summaryIndex: Schema.NonNegativeInt, delta: Schema.String }) &&
    fieldsAre(Event.FunctionCallArgumentsDelta.fields, { itemId: Schema.String, delta: Schema.String })
}

const fieldsAre = (fields: Record<string, unknown>, expected: Record<string, unknown>): boolean => {
  const names = Object.keys(fields).filter((name) => name !== "_tag")
  return names.join(",") === Object.keys(expected).join(",") && names.every((name) => fields[name] === expected[name])
}

type DeltaRecord<A> = new(itemId: string, index: number, text: string) => A

/** A constructor of deltas of `Class` with their index under `indexKey` (none when undefined). */
const deltaRecord = <A extends Event.Delta>(
  Class: { readonly prototype: A; readonly _tag: A["_tag"] },
  indexKey: "contentIndex" | "summaryIndex" | undefined
): DeltaRecord<A> => {
  const tag = Class._tag
  const Built = indexKey === undefined
    ? function(this: Record<string, unknown>, itemId: string, _index: number, text: string) {
      this.itemId = itemId
      this.delta = text
      this._tag = tag
    }
    : function(this: Record<string, unknown>, itemId: string, index: number, text: string) {
      this.itemId = itemId
      this[indexKey] = index
      this.delta = text
      this._tag = tag
    }
  Built.prototype = Class.prototype
  return Built as unknown as DeltaRecord<A>
}

const RefusalDelta = deltaRecord(Event.RefusalDelta, "contentIndex")
const ReasoningSummaryDelta = deltaRecord(Event.ReasoningSummaryDelta, "summaryIndex")
const ReasoningDelta = deltaRecord(Event.ReasoningDelta, "contentIndex")
const FunctionCallArgumentsDelta = deltaRecord(Event.FunctionCallArgumentsDelta, undefined)
