/**
 * MCP servers' tools and local tools in one {@link FunctionCallRunner}: what
 * an agent uses.
 *
 * **Names.** A model sees one flat list of tool names, so names must be unique
 * (and match `^[A-Za-z0-9_-]{1,64}$`, which providers require). The rule,
 * applied to the tools as they are now:
 *
 * 1. Local tools keep their names.
 * 2. An MCP tool keeps its name when no local tool and no tool of another
 *    server has the same name; otherwise — or always, with
 *    `prefix: "always"` — it is named `server + separator + tool`
 *    (separator `"__"` by default), e.g. `filesystem__read_file`.
 * 3. Characters outside `[A-Za-z0-9_-]` become `_` and names are cut to 64
 *    characters. Should a name still collide, servers are taken in
 *    configuration order and the later tool gets `_2`, `_3`, ...
 *
 * **Approvals.** An MCP tool that is marked destructive, or not marked
 * read-only, needs approval (`"always"`); a read-only, non-destructive one
 * does not (`"never"`). `approval` overrides this per server
 * (`{ memory: "never" }`) or per tool, by the tool's own name
 * (`{ filesystem: { write_file: "never" } }`, with `"*"` for the server's
 * other tools).
 *
 * **Results.** Text content becomes text for the model; structured content
 * becomes JSON text when there is no other content; images become
 * `InputImage`s (data URLs); embedded resources become text (or an image);
 * audio and binary resources are described in text. `display` keeps the
 * server's content blocks as they were, for people. A result with
 * `isError: true` is an error output. Protocol errors (unknown tool, invalid
 * params), lost servers and malformed answers are
 * {@link FunctionCallRunner.FunctionCallError}s.
 *
 * @since 0.1.0
 */
import { ContextItem, FunctionCallRunner, Tool } from "@chorus/core"
import type { Toolkit } from "@chorus/core"
import { Duration, Effect, Layer } from "effect"
import * as McpClient from "./McpClient.js"
import type * as McpConfig from "./McpConfig.js"

/** The approval overrides: per server, or per tool of a server (`"*"` for the others). */
export type ApprovalOverrides = Readonly<
  Record<string, Tool.ApprovalPolicy | Readonly<Record<string, Tool.ApprovalPolicy>>>
>

/** Options of {@link make}. */
export interface Options<R = never> {
  /** Local tools, offered beside the MCP tools. */
  readonly local?: Toolkit.Toolkit<R> | undefined
  /** `"on-collision"` (default): prefix only colliding names; `"always"`: prefix every MCP tool. */
  readonly prefix?: "on-collision" | "always" | undefined
  /** Between server and tool name in a prefixed name. Default `"__"`. */
  readonly separator?: string | undefined
  readonly approval?: ApprovalOverrides | undefined
  /** How long one MCP call may run; on expiry the server gets a cancellation. Default: no limit. */
  readonly callTimeout?: Duration.DurationInput | undefined
}

/** What a person sees of an MCP tool's result (`Tool.Result.display`). */
export interface Display {
  readonly _tag: "McpToolResult"
  readonly server: string
  readonly tool: string
  readonly content: ReadonlyArray<McpClient.Content>
  readonly structuredContent: unknown
  readonly isError: boolean
}

/** Where an exposed tool name leads. */
export type Route =
  | { readonly _tag: "Local"; readonly definition: Tool.Definition }
  | { readonly _tag: "Mcp"; readonly server: string; readonly tool: McpClient.McpTool; readonly definition: Tool.Definition }

/** The approval an MCP tool needs by its annotations alone. */
export const defaultApproval = (annotations: Tool.Annotations): Tool.ApprovalPolicy =>
  annotations.destructive === true || annotations.readOnly !== true ? "always" : "never"

const approvalFor = (overrides: ApprovalOverrides | undefined, server: string, tool: McpClient.McpTool) => {
  const override = overrides?.[server]
  if (override === undefined) return defaultApproval(tool.annotations)
  if (typeof override === "string" || typeof override === "function") return override
  return override[tool.name] ?? override["*"] ?? defaultApproval(tool.annotations)
}

const sanitize = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64)

const withSuffix = (name: string, n: number): string => {
  const suffix = `_${n}`
  return `${name.slice(0, 64 - suffix.length)}${suffix}`
}

/**
 * The names under which tools are offered, by the rule in the module
 * documentation: a map from exposed name to its route.
 */
export const routes = (
  local: ReadonlyArray<Tool.Definition>,
  tools: ReadonlyArray<McpClient.ServerTool>,
  options?: Pick<Options, "prefix" | "separator" | "approval">
): ReadonlyMap<string, Route> => {
  const separator = options?.separator ?? "__"
  const always = options?.prefix === "always"
  const result = new Map<string, Route>()
  for (const definition of local) result.set(definition.name, { _tag: "Local", definition })
  const servers = new Map<string, Set<string>>()
  for (const { server, tool } of tools) {
    const name = sanitize(tool.name)
    const owners = servers.get(name) ?? new Set<string>()
    owners.add(server)
    servers.set(name, owners)
  }
  for (const { server, tool } of tools) {
    const plain = sanitize(tool.name)
    const collides = result.has(plain) || (servers.get(plain)?.size ?? 0) > 1
    const wanted = always || collides ? sanitize(`${server}${separator}${tool.name}`) : plain
    let name = wanted
    for (let n = 2; result.has(name); n++) name = withSuffix(wanted, n)
    const parameters = tool.inputSchema
    result.set(name, {
      _tag: "Mcp",
      server,
      tool,
      definition: {
        name,
        description: tool.description ?? tool.title ?? "",
        parameters,
        strict: Tool.isStrictCompatible(parameters),
        annotations: tool.annotations,
        approval: approvalFor(options?.approval, server, tool)
      }
    })
  }
  return result
}

const byteLength = (base64: string): number => Math.floor((base64.replace(/=+$/, "").length * 3) / 4)

const resourceParts = (resource: McpClient.ResourceContents): ContextItem.InputPart => {
  const type = resource.mimeType === undefined ? "" : ` (${resource.mimeType})`
  if ("text" in resource) return new ContextItem.InputText({ text: `Resource ${resource.uri}${type}:\n${resource.text}` })
  if (resource.mimeType?.startsWith("image/") === true) {
    return new ContextItem.InputImage({ imageUrl: `data:${resource.mimeType};base64,${resource.blob}`, detail: "auto" })
  }
  return new ContextItem.InputText({
    text: `[Resource ${resource.uri}${type}: ${byteLength(resource.blob)} bytes of binary data, not shown]`
  })
}

const contentPart = (block: McpClient.Content): ContextItem.InputPart => {
  switch (block.type) {
    case "text":
      return new ContextItem.InputText({ text: block.text })
    case "image":
      return new ContextItem.InputImage({ imageUrl: `data:${block.mimeType};base64,${block.data}`, detail: "auto" })
    case "audio":
      return new ContextItem.InputText({
        text: `[Audio (${block.mimeType}): ${byteLength(block.data)} bytes, not shown]`
      })
    case "resource_link": {
      const type = block.mimeType === undefined ? "" : ` (${block.mimeType})`
      const description = block.description === undefined ? "" : `: ${block.description}`
      return new ContextItem.InputText({ text: `Resource link: ${block.name} <${block.uri}>${type}${description}` })
    }
    case "resource":
      return resourceParts(block.resource)
  }
}

/**
 * Maps an MCP tool result to what the model sees (`output`) and what a
 * person sees (`display`).
 */
export const toResult = (server: string, tool: string, result: McpClient.CallToolResult): Tool.Result => {
  const parts = result.content.map(contentPart)
  if (parts.length === 0 && result.structuredContent !== undefined) {
    parts.push(new ContextItem.InputText({ text: JSON.stringify(result.structuredContent) }))
  }
  const display: Display = {
    _tag: "McpToolResult",
    server,
    tool,
    content: result.content,
    structuredContent: result.structuredContent,
    isError: result.isError
  }
  const output = parts.every((part) => part._tag === "InputText")
    ? parts.map((part) => (part as ContextItem.InputText).text).join("\n")
    : parts
  return { output, isError: result.isError, display }
}

const callError = (name: string, error: McpClient.McpServerError): FunctionCallRunner.FunctionCallError => {
  const reason: FunctionCallRunner.ErrorReason = (() => {
    switch (error.reason) {
      case "request_failed":
        return error.code === -32602 ? "invalid_arguments" : error.code === -32601 ? "unknown_tool" : "failed"
      case "crashed":
        return "crashed"
      case "not_configured":
      case "start_failed":
      case "unavailable":
        return "unavailable"
      default:
        return "failed"
    }
  })()
  return new FunctionCallRunner.FunctionCallError({ reason, name, detail: error.message, cause: error })
}

const parseArguments = (
  name: string,
  raw: string
): Effect.Effect<Readonly<Record<string, unknown>>, FunctionCallRunner.FunctionCallError> => {
  let json: unknown
  try {
    json = raw.trim() === "" ? {} : JSON.parse(raw)
  } catch (error) {
    return Effect.fail(
      new FunctionCallRunner.FunctionCallError({
        reason: "invalid_arguments",
        name,
        detail: `the arguments are not valid JSON (${error instanceof Error ? error.message : String(error)}).`
      })
    )
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Effect.fail(
      new FunctionCallRunner.FunctionCallError({
        reason: "invalid_arguments",
        name,
        detail: "the arguments must be a JSON object."
      })
    )
  }
  return Effect.succeed(json as Readonly<Record<string, unknown>>)
}

/**
 * Makes the runner over the {@link McpClient.McpClient}'s servers and the
 * local toolkit. Tools are read anew on each `tools`, so a server's
 * `tools/list_changed` shows at the next inference.
 *
 * @example
 * import { Effect } from "effect"
 * import { McpClient, McpConfig, McpToolkit } from "@chorus/mcp"
 *
 * const program = Effect.gen(function*() {
 *   const runner = yield* McpToolkit.make({ approval: { memory: "never" } })
 *   return (yield* runner.tools).map((tool) => tool.name)
 * }).pipe(
 *   Effect.provide(McpClient.layer(McpConfig.make([McpConfig.stdio("memory", { command: "mcp-server-memory" })])))
 * )
 */
export const make = <R = never>(
  options?: Options<R>
): Effect.Effect<FunctionCallRunner.Service, never, McpClient.McpClient | R> =>
  Effect.gen(function*() {
    const client = yield* McpClient.McpClient
    const local = options?.local === undefined ? undefined : yield* options.local.runner
    const callTimeout = options?.callTimeout === undefined ? undefined : Duration.decode(options.callTimeout)
    const current = Effect.gen(function*() {
      const localTools = local === undefined ? [] : yield* local.tools
      return routes(localTools, yield* client.tools, options)
    })
    return {
      tools: Effect.map(current, (table) => [...table.values()].map((route) => route.definition)),
      run: (request) =>
        Effect.gen(function*() {
          const table = yield* current
          const route = table.get(request.call.name)
          if (route === undefined) {
            return yield* new FunctionCallRunner.FunctionCallError({
              reason: "unknown_tool",
              name: request.call.name,
              detail: `Available tools: ${[...table.keys()].join(", ") || "none"}.`
            })
          }
          if (route._tag === "Local") {
            // A local route exists only when there is a local runner.
            return local === undefined ? yield* Effect.die("no local runner") : yield* local.run(request)
          }
          const args = yield* parseArguments(request.call.name, request.call.arguments)
          const call = client.callTool(route.server, route.tool.name, args, {
            onProgress: request.progress,
            callId: request.call.callId
          }).pipe(
            Effect.mapError((error) => callError(request.call.name, error))
          )
          const result = callTimeout === undefined ? yield* call : yield* call.pipe(
            Effect.timeout(callTimeout),
            Effect.catchTag("TimeoutException", () =>
              Effect.fail(
                new FunctionCallRunner.FunctionCallError({
                  reason: "failed",
                  name: request.call.name,
                  detail: `the call did not finish within ${Duration.format(callTimeout)} and was cancelled.`
                })
              ))
          )
          return toResult(route.server, route.tool.name, result)
        }).pipe(
          Effect.withSpan("McpToolkit.run", { attributes: { "gen_ai.tool.name": request.call.name } })
        )
    } satisfies FunctionCallRunner.Service
  })

/** The runner as a layer, over an {@link McpClient.McpClient} provided elsewhere. */
export const layer = <R = never>(
  options?: Options<R>
): Layer.Layer<FunctionCallRunner.FunctionCallRunner, never, McpClient.McpClient | R> =>
  Layer.effect(FunctionCallRunner.FunctionCallRunner, make(options))

/**
 * The servers of a configuration and the local tools as one runner; the
 * {@link McpClient.McpClient} is provided too (for resources, prompts, status).
 *
 * @example
 * import { McpConfig, McpToolkit } from "@chorus/mcp"
 *
 * const tools = McpToolkit.layerServers(
 *   McpConfig.make([McpConfig.stdio("filesystem", { command: "mcp-server-filesystem", args: ["/tmp"] })]),
 *   { approval: { filesystem: { read_text_file: "never" } } }
 * )
 */
export const layerServers = <R = never>(
  config: McpConfig.McpConfig,
  options?: Options<R> & McpClient.Options
): Layer.Layer<FunctionCallRunner.FunctionCallRunner | McpClient.McpClient, never, R> =>
  layer(options).pipe(Layer.provideMerge(McpClient.layer(config, options)))

/** Is this result's `display` an MCP tool result? */
export const isDisplay = (display: unknown): display is Display =>
  typeof display === "object" && display !== null && (display as { _tag?: unknown })._tag === "McpToolResult"

