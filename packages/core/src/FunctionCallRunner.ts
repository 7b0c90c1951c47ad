/**
 * The function-call generator: runs a model's function call and gives its
 * output, reporting progress; interruptible.
 *
 * Build one from a {@link Toolkit} (local tools) or from MCP servers
 * (`@chorus/mcp`); both expose the same {@link Tool.Definition}s.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type * as ContextItem from "./ContextItem.js"
import type * as Tool from "./Tool.js"

/** Why a call could not produce a normal output. */
export const ErrorReason = Schema.Literal("unknown_tool", "invalid_arguments", "failed", "crashed", "unavailable")
export type ErrorReason = typeof ErrorReason.Type

/** A call failed; its message is written for the model, which will see it as an error output. */
export class FunctionCallError extends Schema.TaggedError<FunctionCallError>()("FunctionCallError", {
  reason: ErrorReason,
  name: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    switch (this.reason) {
      case "unknown_tool":
        return `Unknown tool "${this.name}". ${this.detail}`
      case "invalid_arguments":
        return `Invalid arguments for tool "${this.name}": ${this.detail}`
      default:
        return `Tool "${this.name}" failed: ${this.detail}`
    }
  }
}

/** A call to run. */
export interface Request {
  readonly call: ContextItem.FunctionCall
  readonly progress: (progress: Tool.Progress) => Effect.Effect<void>
}

/** The service. */
export interface Service {
  /** The tools available now (re-read before each inference: MCP servers may change theirs). */
  readonly tools: Effect.Effect<ReadonlyArray<Tool.Definition>>
  readonly run: (request: Request) => Effect.Effect<Tool.Result, FunctionCallError>
}

/** The function-call generator tag. */
export class FunctionCallRunner extends Context.Tag("@chorus/core/FunctionCallRunner")<FunctionCallRunner, Service>() {}
