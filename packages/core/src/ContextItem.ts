/**
 * Context items: the OpenResponses item model as `Schema` classes.
 *
 * Every item has an `id`, the `author` participant id and a `status`. The
 * {@link Wire} schema converts items to and from the OpenResponses wire shape
 * (`{ type: "message", role, content, ... }`) without loss; Chorus-only fields
 * (`author`, the error flag of an output) travel in a `chorus` extension object
 * that standard clients ignore, and are optional on decode so that plain
 * OpenResponses input items are accepted.
 *
 * @since 0.1.0
 */
import { Effect, ParseResult, Schema } from "effect"
import type { SchemaAST } from "effect"

/** Lifecycle status of an item. */
export const Status = Schema.Literal("in_progress", "completed", "incomplete")
export type Status = typeof Status.Type

// ---------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------

/** Text given to a model (`input_text`). */
export class InputText extends Schema.TaggedClass<InputText>()("InputText", {
  text: Schema.String
}) {}

/** An image given to a model (`input_image`), by URL or data URL. */
export class InputImage extends Schema.TaggedClass<InputImage>()("InputImage", {
  imageUrl: Schema.String,
  detail: Schema.Literal("low", "high", "auto")
}) {}

/** Text produced by a model (`output_text`). */
export class OutputText extends Schema.TaggedClass<OutputText>()("OutputText", {
  text: Schema.String
}) {}

/** A refusal produced by a model (`refusal`). */
export class Refusal extends Schema.TaggedClass<Refusal>()("Refusal", {
  refusal: Schema.String
}) {}

/** Parts of input messages (system, developer, user) and of function call outputs. */
export const InputPart = Schema.Union(InputText, InputImage)
export type InputPart = typeof InputPart.Type

/** Parts of model messages. */
export const OutputPart = Schema.Union(OutputText, Refusal)
export type OutputPart = typeof OutputPart.Type

/** A reasoning summary part (`summary_text`). */
export class SummaryText extends Schema.TaggedClass<SummaryText>()("SummaryText", {
  text: Schema.String
}) {}

/** A reasoning content part (`reasoning_text`). */
export class ReasoningText extends Schema.TaggedClass<ReasoningText>()("ReasoningText", {
  text: Schema.String
}) {}

// ---------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------

const common = {
  id: Schema.String,
  author: Schema.String,
  status: Status
}

/** A system message (`role: "system"`). */
export class SystemMessage extends Schema.TaggedClass<SystemMessage>()("SystemMessage", {
  ...common,
  content: Schema.Array(InputText)
}) {}

/** A developer message (`role: "developer"`). */
export class DeveloperMessage extends Schema.TaggedClass<DeveloperMessage>()("DeveloperMessage", {
  ...common,
  content: Schema.Array(InputText)
}) {}

/** A user message (`role: "user"`): what a person, or another participant seen as a user, said. */
export class UserMessage extends Schema.TaggedClass<UserMessage>()("UserMessage", {
  ...common,
  content: Schema.Array(InputPart)
}) {}

/** A model message (`role: "assistant"`). */
export class ModelMessage extends Schema.TaggedClass<ModelMessage>()("ModelMessage", {
  ...common,
  content: Schema.Array(OutputPart)
}) {}

/** A reasoning item; `encryptedContent` is sent back to the provider as is. */
export class Reasoning extends Schema.TaggedClass<Reasoning>()("Reasoning", {
  ...common,
  summary: Schema.Array(SummaryText),
  content: Schema.Array(ReasoningText),
  encryptedContent: Schema.NullOr(Schema.String)
}) {}

/** A function call requested by a model; `arguments` is the raw JSON text. */
export class FunctionCall extends Schema.TaggedClass<FunctionCall>()("FunctionCall", {
  ...common,
  callId: Schema.String,
  name: Schema.String,
  arguments: Schema.String
}) {}

/** The output of a function call; errors are outputs too (`isError`). */
export class FunctionCallOutput extends Schema.TaggedClass<FunctionCallOutput>()("FunctionCallOutput", {
  ...common,
  callId: Schema.String,
  output: Schema.Union(Schema.String, Schema.Array(InputPart)),
  isError: Schema.Boolean
}) {}

/** Any context item. */
export const ContextItem = Schema.Union(
  SystemMessage,
  DeveloperMessage,
  UserMessage,
  ModelMessage,
  Reasoning,
  FunctionCall,
  FunctionCallOutput
)
export type ContextItem = typeof ContextItem.Type

/** Messages, the items that carry text between participants. */
export type Message = SystemMessage | DeveloperMessage | UserMessage | ModelMessage

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/**
 * The plain text of an item: message text, refusal text, reasoning summary,
 * function-call arguments or output text.
 */
export const text = (item: ContextItem): string => {
  switch (item._tag) {
    case "SystemMessage":
    case "DeveloperMessage":
      return item.content.map((part) => part.text).join("")
    case "UserMessage":
      return item.content.map((part) => (part._tag === "InputText" ? part.text : "")).join("")
    case "ModelMessage":
      return item.content.map((part) => (part._tag === "OutputText" ? part.text : part.refusal)).join("")
    case "Reasoning":
      return item.summary.map((part) => part.text).join("")
    case "FunctionCall":
      return item.arguments
    case "FunctionCallOutput":
      return typeof item.output === "string"
        ? item.output
        : item.output.map((part) => (part._tag === "InputText" ? part.text : "")).join("")
  }
}

/** A completed user message holding one text part. */
export const userText = (options: { readonly id: string; readonly author: string; readonly text: string }) =>
  new UserMessage({
    id: options.id,
    author: options.author,
    status: "completed",
    content: [new InputText({ text: options.text })]
  })

/** A completed model message holding one text part. */
export const modelText = (options: { readonly id: string; readonly author: string; readonly text: string }) =>
  new ModelMessage({
    id: options.id,
    author: options.author,
    status: "completed",
    content: [new OutputText({ text: options.text })]
  })

/** A completed system message holding one text part. */
export const systemText = (options: { readonly id: string; readonly author: string; readonly text: string }) =>
  new SystemMessage({
    id: options.id,
    author: options.author,
    status: "completed",
    content: [new InputText({ text: options.text })]
  })

// ---------------------------------------------------------------------------
// OpenResponses wire shape
// ---------------------------------------------------------------------------

const WireStatus = Schema.optional(Status)

const Extension = Schema.optional(
  Schema.Struct({
    author: Schema.optional(Schema.String),
    is_error: Schema.optional(Schema.Boolean)
  })
)

const WireInputText = Schema.Struct({ type: Schema.Literal("input_text"), text: Schema.String })
const WireInputImage = Schema.Struct({
  type: Schema.Literal("input_image"),
  image_url: Schema.String,
  detail: Schema.optional(Schema.Literal("low", "high", "auto"))
})
const WireOutputText = Schema.Struct({
  type: Schema.Literal("output_text"),
  text: Schema.String,
  annotations: Schema.optional(Schema.Array(Schema.Unknown))
})
const WireRefusal = Schema.Struct({ type: Schema.Literal("refusal"), refusal: Schema.String })
const WireInputPart = Schema.Union(WireInputText, WireInputImage)

/** The OpenResponses wire shape of a message item. */
export const WireMessage = Schema.Struct({
  type: Schema.optional(Schema.Literal("message")),
  id: Schema.optional(Schema.String),
  role: Schema.Literal("system", "developer", "user", "assistant"),
  status: WireStatus,
  content: Schema.Union(Schema.String, Schema.Array(Schema.Union(WireInputText, WireInputImage, WireOutputText, WireRefusal))),
  chorus: Extension
})

/** The OpenResponses wire shape of a reasoning item. */
export const WireReasoning = Schema.Struct({
  type: Schema.Literal("reasoning"),
  id: Schema.optional(Schema.String),
  status: WireStatus,
  summary: Schema.Array(Schema.Struct({ type: Schema.Literal("summary_text"), text: Schema.String })),
  content: Schema.optional(Schema.Array(Schema.Struct({ type: Schema.Literal("reasoning_text"), text: Schema.String }))),
  encrypted_content: Schema.optional(Schema.NullOr(Schema.String)),
  chorus: Extension
})

/** The OpenResponses wire shape of a function call item. */
export const WireFunctionCall = Schema.Struct({
  type: Schema.Literal("function_call"),
  id: Schema.optional(Schema.String),
  status: WireStatus,
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  chorus: Extension
})

/** The OpenResponses wire shape of a function call output item. */
export const WireFunctionCallOutput = Schema.Struct({
  type: Schema.Literal("function_call_output"),
  id: Schema.optional(Schema.String),
  status: WireStatus,
  call_id: Schema.String,
  output: Schema.Union(Schema.String, Schema.Array(WireInputPart)),
  chorus: Extension
})

/** Any OpenResponses item in its wire shape. */
export const WireItem = Schema.Union(WireMessage, WireReasoning, WireFunctionCall, WireFunctionCallOutput)
export type WireItem = typeof WireItem.Type

type WirePart = typeof WireInputText.Type | typeof WireInputImage.Type | typeof WireOutputText.Type | typeof WireRefusal.Type

const defaultAuthor = (role: string) => role

const decodeItem = (wire: WireItem, ast: SchemaAST.AST): Effect.Effect<ContextItem, ParseResult.ParseIssue> => {
  const fail = (message: string) => Effect.fail(new ParseResult.Type(ast, wire, message))
  const id = wire.id ?? ""
  const status: Status = wire.status ?? "completed"
  if (!("type" in wire) || wire.type === undefined || wire.type === "message") {
    const message = wire as typeof WireMessage.Type
    const author = message.chorus?.author ?? defaultAuthor(message.role)
    const parts: ReadonlyArray<WirePart> = typeof message.content === "string"
      ? [message.role === "assistant"
        ? { type: "output_text", text: message.content }
        : { type: "input_text", text: message.content }]
      : message.content
    if (message.role === "assistant") {
      const content: Array<OutputPart> = []
      for (const part of parts) {
        if (part.type === "output_text") content.push(new OutputText({ text: part.text }))
        else if (part.type === "refusal") content.push(new Refusal({ refusal: part.refusal }))
        else if (part.type === "input_text") content.push(new OutputText({ text: part.text }))
        else return fail(`an assistant message cannot hold a ${part.type} part`)
      }
      return Effect.succeed(new ModelMessage({ id, author, status, content }))
    }
    const input: Array<InputPart> = []
    for (const part of parts) {
      if (part.type === "input_text" || part.type === "output_text") input.push(new InputText({ text: part.text }))
      else if (part.type === "input_image") {
        input.push(new InputImage({ imageUrl: part.image_url, detail: part.detail ?? "auto" }))
      } else return fail(`a ${message.role} message cannot hold a ${part.type} part`)
    }
    if (message.role === "user") return Effect.succeed(new UserMessage({ id, author, status, content: input }))
    const textOnly: Array<InputText> = []
    for (const part of input) {
      if (part._tag !== "InputText") return fail(`a ${message.role} message can only hold text`)
      textOnly.push(part)
    }
    return Effect.succeed(
      message.role === "system"
        ? new SystemMessage({ id, author, status, content: textOnly })
        : new DeveloperMessage({ id, author, status, content: textOnly })
    )
  }
  switch (wire.type) {
    case "reasoning":
      return Effect.succeed(
        new Reasoning({
          id,
          author: wire.chorus?.author ?? "assistant",
          status,
          summary: wire.summary.map((part) => new SummaryText({ text: part.text })),
          content: (wire.content ?? []).map((part) => new ReasoningText({ text: part.text })),
          encryptedContent: wire.encrypted_content ?? null
        })
      )
    case "function_call":
      return Effect.succeed(
        new FunctionCall({
          id,
          author: wire.chorus?.author ?? "assistant",
          status,
          callId: wire.call_id,
          name: wire.name,
          arguments: wire.arguments
        })
      )
    case "function_call_output":
      return Effect.succeed(
        new FunctionCallOutput({
          id,
          author: wire.chorus?.author ?? "tool",
          status,
          callId: wire.call_id,
          output: typeof wire.output === "string"
            ? wire.output
            : wire.output.map((part) =>
              part.type === "input_text"
                ? new InputText({ text: part.text })
                : new InputImage({ imageUrl: part.image_url, detail: part.detail ?? "auto" })
            ),
          isError: wire.chorus?.is_error ?? false
        })
      )
  }
}

const encodeInputPart = (part: InputPart): typeof WireInputText.Type | typeof WireInputImage.Type =>
  part._tag === "InputText"
    ? { type: "input_text", text: part.text }
    : { type: "input_image", image_url: part.imageUrl, detail: part.detail }

/** Converts an item to its OpenResponses wire shape, with the `chorus` extension. */
export const toWire = (item: ContextItem): WireItem => {
  const chorus = { author: item.author }
  switch (item._tag) {
    case "SystemMessage":
    case "DeveloperMessage":
    case "UserMessage":
      return {
        type: "message",
        id: item.id,
        role: item._tag === "SystemMessage" ? "system" : item._tag === "DeveloperMessage" ? "developer" : "user",
        status: item.status,
        content: item.content.map(encodeInputPart),
        chorus
      }
    case "ModelMessage":
      return {
        type: "message",
        id: item.id,
        role: "assistant",
        status: item.status,
        content: item.content.map((part) =>
          part._tag === "OutputText"
            ? { type: "output_text" as const, text: part.text, annotations: [] }
            : { type: "refusal" as const, refusal: part.refusal }
        ),
        chorus
      }
    case "Reasoning":
      return {
        type: "reasoning",
        id: item.id,
        status: item.status,
        summary: item.summary.map((part) => ({ type: "summary_text" as const, text: part.text })),
        content: item.content.map((part) => ({ type: "reasoning_text" as const, text: part.text })),
        encrypted_content: item.encryptedContent,
        chorus
      }
    case "FunctionCall":
      return {
        type: "function_call",
        id: item.id,
        status: item.status,
        call_id: item.callId,
        name: item.name,
        arguments: item.arguments,
        chorus
      }
    case "FunctionCallOutput":
      return {
        type: "function_call_output",
        id: item.id,
        status: item.status,
        call_id: item.callId,
        output: typeof item.output === "string" ? item.output : item.output.map(encodeInputPart),
        chorus: { author: item.author, is_error: item.isError }
      }
  }
}

/**
 * Items in the OpenResponses wire shape: decoding accepts plain OpenResponses
 * input items (string or part contents, optional ids and statuses) and gives
 * clear errors for malformed ones; encoding writes the full wire shape.
 */
export const Wire: Schema.Schema<ContextItem, WireItem> = Schema.transformOrFail(
  WireItem,
  Schema.typeSchema(ContextItem),
  {
    strict: true,
    decode: (wire, _, ast) => decodeItem(wire, ast),
    encode: (item) => ParseResult.succeed(toWire(item))
  }
)

/** Decodes unknown JSON (one item) from the OpenResponses wire shape. */
export const decodeWire = Schema.decodeUnknown(Wire, { errors: "all" })

/** Encodes an item to the OpenResponses wire shape. */
export const encodeWire = Schema.encode(Wire)
