/**
 * The `@effect/ai` bridge: context items → a `Prompt`, tool definitions → a
 * toolkit the model may call but never resolves (Chorus runs the calls), and
 * the model's stream parts → provider-neutral parts. Errors of `@effect/ai`
 * (`AiError`) become `InferenceError`s here, once.
 *
 * @internal
 */
import { ContextItem, Event, InferenceRunner } from "@chorus/core"
import type { Tool as ChorusTool } from "@chorus/core"
import type { AiError, Response } from "@effect/ai"
import { Tool } from "@effect/ai"
import type * as Prompt from "@effect/ai/Prompt"
import { Either, Option, Schema } from "effect"
import * as Errors from "./inferenceError.js"
import { cutOffNote } from "./chatCompletions.js"
import * as Shared from "./openAiShared.js"

type InferenceError = InferenceRunner.InferenceError
type Part = InferenceRunner.Part

// ---------------------------------------------------------------------------
// Items → Prompt
// ---------------------------------------------------------------------------

/**
 * A reasoning item's provider metadata (Anthropic's signature, OpenAI's encrypted content) travels in
 * `encryptedContent` with this prefix, and goes back as the reasoning part's provider options.
 */
const metadataPrefix = "effect-ai:"

const filePart = (part: ContextItem.InputImage): Prompt.FilePartEncoded => {
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(part.imageUrl)
  return data === null
    ? { type: "file", mediaType: "image/*", data: new URL(part.imageUrl) }
    : { type: "file", mediaType: data[1]!, data: data[2]! }
}

const inputParts = (parts: ReadonlyArray<ContextItem.InputPart>): Array<Prompt.UserMessagePartEncoded> =>
  parts.map((part) => part._tag === "InputText" ? { type: "text", text: part.text } : filePart(part))

const textOf = (parts: ReadonlyArray<ContextItem.InputPart>): string =>
  parts.map((part) => (part._tag === "InputText" ? part.text : "[image omitted]")).join("")

const paramsOf = (json: string): unknown => {
  try {
    return JSON.parse(json === "" ? "{}" : json)
  } catch {
    return json
  }
}

const reasoningOptions = (item: ContextItem.Reasoning): Prompt.ProviderOptions | undefined => {
  if (item.encryptedContent === null || !item.encryptedContent.startsWith(metadataPrefix)) return undefined
  try {
    return JSON.parse(item.encryptedContent.slice(metadataPrefix.length)) as Prompt.ProviderOptions
  } catch {
    return undefined
  }
}

/**
 * The prompt of a context: the model's consecutive items (reasoning, text, calls) form one assistant
 * message, outputs one tool message; an answer that was cut off says so.
 */
export const toPrompt = (items: ReadonlyArray<ContextItem.ContextItem>): Array<Prompt.MessageEncoded> => {
  const messages: Array<Prompt.MessageEncoded> = []
  const names = new Map<string, string>()
  let assistant: Array<Prompt.AssistantMessagePartEncoded> | null = null
  let tool: Array<Prompt.ToolMessagePartEncoded> | null = null
  const assistantParts = () => {
    tool = null
    if (assistant === null) {
      assistant = []
      messages.push({ role: "assistant", content: assistant })
    }
    return assistant
  }
  for (const item of items) {
    switch (item._tag) {
      case "SystemMessage":
      case "DeveloperMessage":
        assistant = tool = null
        messages.push({ role: "system", content: textOf(item.content) })
        break
      case "UserMessage":
        assistant = tool = null
        messages.push({ role: "user", content: inputParts(item.content) })
        break
      case "ModelMessage": {
        const text = item.content.map((part) => (part._tag === "OutputText" ? part.text : part.refusal)).join("")
        if (text === "") break
        assistantParts().push({ type: "text", text: item.status === "incomplete" ? `${text}\n${cutOffNote}` : text })
        break
      }
      case "Reasoning": {
        const text = [...item.summary, ...item.content].map((part) => part.text).join("\n")
        const options = reasoningOptions(item)
        if (text === "" && options === undefined) break
        assistantParts().push({ type: "reasoning", text, ...(options === undefined ? {} : { options }) })
        break
      }
      case "FunctionCall":
        names.set(item.callId, item.name)
        assistantParts().push({
          type: "tool-call",
          id: item.callId,
          name: item.name,
          params: paramsOf(item.arguments),
          providerExecuted: false
        })
        break
      case "FunctionCallOutput": {
        assistant = null
        if (tool === null) {
          tool = []
          messages.push({ role: "tool", content: tool })
        }
        tool.push({
          type: "tool-result",
          id: item.callId,
          name: names.get(item.callId) ?? "unknown",
          isFailure: item.isError,
          result: typeof item.output === "string" ? item.output : textOf(item.output),
          providerExecuted: false
        })
        break
      }
    }
  }
  return messages
}

// ---------------------------------------------------------------------------
// Tool definitions → a toolkit the model never resolves
// ---------------------------------------------------------------------------

/** Any JSON object, described to the model by the tool's own JSON Schema. */
const parametersOf = (definition: ChorusTool.Definition) =>
  Schema.Struct({}, Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations({
    jsonSchema: definition.parameters as object
  })

/** An `@effect/ai` tool for a Chorus tool definition: same name, description and JSON Schema. */
export const toTool = (definition: ChorusTool.Definition): Tool.Any => {
  const made = Tool.make(definition.name, { description: definition.description })
  return Object.assign(Object.create(Object.getPrototypeOf(made)), made, {
    parametersSchema: parametersOf(definition)
  }) as Tool.Any
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** The code a provider put in an error body (`{"error":{"type":"overloaded_error"}}`, `{"error":{"code":…}}`). */
const bodyCode = (body: string | undefined): { readonly code: string | null; readonly message: string | null } => {
  if (body === undefined) return { code: null, message: null }
  try {
    const parsed = JSON.parse(body) as { readonly error?: { readonly code?: unknown; readonly type?: unknown; readonly message?: unknown } }
    const error = parsed.error
    return {
      code: Errors.codeOf(error?.code) ?? Errors.codeOf(error?.type),
      message: typeof error?.message === "string" ? error.message : null
    }
  } catch {
    return { code: null, message: null }
  }
}

/** Translates an `AiError` into an `InferenceError`, keeping the provider's status and code. */
export const fromAiError = (error: AiError.AiError): InferenceError => {
  switch (error._tag) {
    case "HttpRequestError":
      // Not kept as the cause: the request it holds carries the API key in its headers.
      return Errors.make("connection", error.message)
    case "HttpResponseError": {
      const status = error.response.status
      const { code, message } = bodyCode(error.body)
      if (error.reason !== "StatusCode") return Errors.make("malformed_stream", error.message, { status, code })
      return Errors.make(Errors.reasonOfStatus(status), message ?? error.message, { status, code })
    }
    case "MalformedInput":
      return Errors.make("bad_request", error.message)
    case "MalformedOutput":
      return Errors.malformed(error.message)
    case "UnknownError":
      return Errors.make("other", error.message)
  }
}

/** An error the model's stream reported as an `error` part. */
const fromErrorPart = (error: unknown): InferenceError => {
  if (typeof error === "object" && error !== null) {
    const body = (error as { readonly error?: unknown }).error ?? error
    if (typeof body === "object" && body !== null) return Errors.fromProvider(body, "the provider reported an error")
  }
  return Errors.make("other", `the provider reported an error: ${String(error)}`)
}

// ---------------------------------------------------------------------------
// Stream parts → Chorus parts
// ---------------------------------------------------------------------------

const incompleteReasonOf = (reason: Response.FinishReason): string | null => {
  switch (reason) {
    case "length":
      return "max_output_tokens"
    case "content-filter":
      return "content_filter"
    case "error":
      return "error"
    default:
      return null
  }
}

const hasMetadata = (metadata: Response.ProviderMetadata): boolean =>
  Object.values(metadata).some((value) => value !== undefined && Object.keys(value).length > 0)

/** Maps the parts of one `streamText` to Chorus parts; `base` makes item ids unique across requests. */
export const mapper = (requestedModel: string, base: string) => {
  const open = new Map<string, "message" | "reasoning" | "function_call">()
  const reasoningMetadata = new Map<string, Response.ProviderMetadata>()
  let model: string | null = null
  let finished = false
  // The last id mapped, kept: every delta of an item asks for the same one.
  let lastId = ""
  let lastItemId = ""
  const idOf = (id: string) => {
    if (id !== lastId) {
      lastId = id
      lastItemId = `${base}_${id}`
    }
    return lastItemId
  }

  const start = (
    id: string,
    kind: "message" | "reasoning" | "function_call",
    call?: { readonly callId: string; readonly name: string }
  ): Part => {
    open.set(idOf(id), kind)
    return new InferenceRunner.ItemStart({
      itemId: idOf(id),
      kind,
      callId: call?.callId ?? null,
      name: call?.name ?? null
    })
  }

  const end = (id: string, final: ContextItem.ContextItem | null, out: Array<Part>) => {
    if (open.delete(idOf(id))) out.push(new InferenceRunner.ItemEnd({ itemId: idOf(id), final }))
  }

  /** Adds the parts one stream part maps to onto `out` (no array or `Either` per part: deltas are most parts). */
  const mapInto = (part: Response.StreamPart<Record<string, Tool.Any>>, out: Array<Part>): InferenceError | null => {
    switch (part.type) {
      case "text-delta":
        out.push(Event.unsafeTextDelta(idOf(part.id), 0, part.delta))
        return null
      case "response-metadata":
        if (Option.isSome(part.modelId)) model = part.modelId.value
        return null
      case "text-start":
        out.push(start(part.id, "message"))
        return null
      case "text-end":
        end(part.id, null, out)
        return null
      case "reasoning-start":
        out.push(start(part.id, "reasoning"))
        return null
      case "reasoning-delta":
        if (hasMetadata(part.metadata)) reasoningMetadata.set(part.id, part.metadata)
        if (part.delta !== "") {
          out.push(new Event.ReasoningDelta({ itemId: idOf(part.id), contentIndex: 0, delta: part.delta }, true))
        }
        return null
      case "reasoning-end": {
        const metadata = hasMetadata(part.metadata) ? part.metadata : reasoningMetadata.get(part.id)
        const final = metadata === undefined ? null : new ContextItem.Reasoning({
          id: idOf(part.id),
          author: "",
          status: "completed",
          summary: [],
          content: [],
          encryptedContent: `${metadataPrefix}${JSON.stringify(metadata)}`
        })
        end(part.id, final, out)
        return null
      }
      case "tool-params-start":
        if (!part.providerExecuted) out.push(start(part.id, "function_call", { callId: part.id, name: part.name }))
        return null
      case "tool-params-delta":
        if (open.has(idOf(part.id)) && part.delta !== "") {
          out.push(new Event.FunctionCallArgumentsDelta({ itemId: idOf(part.id), delta: part.delta }, true))
        }
        return null
      case "tool-params-end":
        return null
      case "tool-call": {
        if (part.providerExecuted) return null
        if (!open.has(idOf(part.id))) out.push(start(part.id, "function_call", { callId: part.id, name: part.name }))
        const final = new ContextItem.FunctionCall({
          id: idOf(part.id),
          author: "",
          status: "completed",
          callId: part.id,
          name: part.name,
          arguments: JSON.stringify(part.params)
        })
        end(part.id, final, out)
        return null
      }
      case "finish": {
        finished = true
        const incompleteReason = incompleteReasonOf(part.reason)
        for (const itemId of open.keys()) out.push(new InferenceRunner.ItemEnd({ itemId, final: null }))
        open.clear()
        out.push(
          new InferenceRunner.Finished({
            usage: Shared.usage({
              input: part.usage.inputTokens,
              output: part.usage.outputTokens,
              total: part.usage.totalTokens,
              cached: part.usage.cachedInputTokens,
              reasoning: part.usage.reasoningTokens
            }),
            incompleteReason,
            model: model ?? requestedModel
          })
        )
        return null
      }
      case "error":
        return fromErrorPart(part.error)
      default:
        // Provider-executed results, sources, files: nothing Chorus keeps.
        return null
    }
  }

  /** The model's stream ended: an error unless it finished (a cut connection is not an answer). */
  const ended = (): Either.Either<ReadonlyArray<Part>, InferenceError> =>
    finished ? Either.right([]) : Either.left(Errors.malformed("the model's stream ended before it finished"))

  return { mapInto, end: ended }
}
