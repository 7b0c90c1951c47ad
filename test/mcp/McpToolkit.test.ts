import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Queue, Ref, Schema } from "effect"
import { ContextItem, FunctionCallRunner, Tool, Toolkit } from "@chorus/core"
import { McpClient, McpConfig, McpToolkit } from "@chorus/mcp"
import * as Servers from "./servers.js"

let calls = 0
const functionCall = (name: string, args: unknown) =>
  new ContextItem.FunctionCall({
    id: `item-${++calls}`,
    author: "model",
    status: "completed",
    callId: `call-${calls}`,
    name,
    arguments: typeof args === "string" ? args : JSON.stringify(args)
  })

const run = (name: string, args: unknown, progress?: (progress: Tool.Progress) => Effect.Effect<void>) =>
  Effect.flatMap(FunctionCallRunner.FunctionCallRunner, (runner) =>
    runner.run({ call: functionCall(name, args), progress: progress ?? (() => Effect.void) }))

const textOf = (result: Tool.Result): string =>
  typeof result.output === "string"
    ? result.output
    : result.output.map((part) => (part._tag === "InputText" ? part.text : `[image ${part.imageUrl.slice(0, 22)}]`))
      .join("\n")

const localEcho = Tool.make("echo", {
  description: "A local echo",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(`local: ${text}`)
})

/** The runner and the client over the given servers (and the local echo tool). */
const servers = (list: ReadonlyArray<McpConfig.Server>, options?: McpToolkit.Options & McpClient.Options) =>
  McpToolkit.layerServers(McpConfig.make(list), { local: Toolkit.make(localEcho), ...options })

const everythingOnly = servers([Servers.everything()])

/** The next event of that kind (servers also list their tools again on their own). */
const next = <Tag extends McpClient.Event["_tag"]>(events: Queue.Dequeue<McpClient.Event>, tag: Tag) =>
  Queue.take(events).pipe(
    Effect.repeat({ until: (event) => event._tag === tag }),
    Effect.map((event) => event as Extract<McpClient.Event, { readonly _tag: Tag }>)
  )

describe("McpToolkit", () => {
  it.live("one registry: local and MCP tools, collisions prefixed, schemas unchanged, approvals from annotations", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const layer = servers([
        Servers.everything(),
        Servers.filesystem(directory),
        Servers.memory(Path.join(directory, "memory.jsonl")),
        Servers.dynamic("a"),
        Servers.dynamic("b")
      ], { approval: { memory: "never", filesystem: { create_directory: "never" } } })
      yield* Effect.gen(function*() {
        const runner = yield* FunctionCallRunner.FunctionCallRunner
        const client = yield* McpClient.McpClient
        const tools = yield* runner.tools
        const byName = new Map(tools.map((tool) => [tool.name, tool]))
        assert.strictEqual(byName.size, tools.length, "names are unique")

        // The local echo keeps its name; everything's echo is prefixed by its server.
        assert.strictEqual(byName.get("echo")?.description, "A local echo")
        assert.strictEqual(byName.get("everything__echo")?.annotations.title, "Echo Tool")
        // The same tool on two servers: both prefixed; unique names stay as they are.
        assert.isTrue(byName.has("a__add_tool") && byName.has("b__add_tool") && !byName.has("add_tool"))
        assert.isTrue(byName.has("read_text_file") && byName.has("create_entities") && byName.has("get-sum"))
        for (const tool of tools) assert.match(tool.name, /^[A-Za-z0-9_-]{1,64}$/)

        // JSON Schema passed through unchanged.
        const raw = (yield* client.tools).find((entry) => entry.server === "filesystem" && entry.tool.name === "write_file")
        assert.deepStrictEqual(byName.get("write_file")?.parameters, raw?.tool.inputSchema)
        assert.strictEqual(byName.get("write_file")?.parameters.$schema, "http://json-schema.org/draft-07/schema#")

        // Approvals: destructive or not read-only → always; read-only → never; overrides per server and per tool.
        assert.strictEqual(byName.get("write_file")?.approval, "always")
        assert.strictEqual(byName.get("move_file")?.approval, "always")
        assert.strictEqual(byName.get("read_text_file")?.approval, "never")
        assert.strictEqual(byName.get("create_directory")?.approval, "never")
        assert.strictEqual(byName.get("create_entities")?.approval, "never")
        assert.strictEqual(byName.get("delete_entities")?.approval, "never")
        assert.strictEqual(byName.get("toggle-simulated-logging")?.approval, "always")
        assert.strictEqual(byName.get("get-sum")?.approval, "never")
        assert.strictEqual(byName.get("a__add_tool")?.approval, "always", "no annotations: not read-only")
        assert.strictEqual(byName.get("echo")?.approval, "never")

        // Calls reach the right tool under the exposed names.
        assert.strictEqual(textOf(yield* run("echo", { text: "hi" })), "local: hi")
        assert.strictEqual(textOf(yield* run("everything__echo", { message: "hi" })), "Echo: hi")
        assert.strictEqual(textOf(yield* run("b__stats", {})), "{\"cancelled\":0}")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped))

  it("the naming rule: prefix on collision or always, sanitized, suffixed if still colliding", () => {
    const tool = (name: string): McpClient.McpTool => ({
      name,
      title: undefined,
      description: `${name} tool`,
      inputSchema: { type: "object", properties: {} },
      outputSchema: undefined,
      annotations: { readOnly: true }
    })
    const local = [localEcho.definition]
    const tools = [
      { server: "web", tool: tool("search") },
      { server: "web", tool: tool("echo") },
      { server: "my.files", tool: tool("read.file") },
      { server: "web", tool: tool("web__fetch") },
      { server: "web2", tool: tool("fetch") },
      { server: "web", tool: tool("fetch") }
    ]
    const names = (options?: Parameters<typeof McpToolkit.routes>[2]) =>
      [...McpToolkit.routes(local, tools, options).keys()]
    assert.deepStrictEqual(names(), ["echo", "search", "web__echo", "read_file", "web__fetch", "web2__fetch", "web__fetch_2"])
    assert.deepStrictEqual(names({ prefix: "always", separator: "." }).slice(1), [
      "web_search",
      "web_echo",
      "my_files_read_file",
      "web_web__fetch",
      "web2_fetch",
      "web_fetch"
    ])
    const long = McpToolkit.routes([], [{ server: "s".repeat(40), tool: tool("t".repeat(40)) }], { prefix: "always" })
    assert.strictEqual([...long.keys()][0]?.length, 64)
  })

  it.live("results: text, images as data URLs, embedded resources, structured content, display kept apart", () =>
    Effect.gen(function*() {
      const echo = yield* run("everything__echo", { message: "hello" })
      assert.deepStrictEqual(echo.output, "Echo: hello")
      assert.isFalse(echo.isError)
      assert.isTrue(McpToolkit.isDisplay(echo.display))

      const image = yield* run("get-tiny-image", {})
      assert.isArray(image.output)
      const parts = image.output as ReadonlyArray<ContextItem.InputPart>
      const picture = parts.find((part) => part._tag === "InputImage")
      assert.match(picture?._tag === "InputImage" ? picture.imageUrl : "", /^data:image\/png;base64,iVBOR/)
      assert.isTrue(parts.some((part) => part._tag === "InputText"))

      const reference = yield* run("get-resource-reference", { resourceType: "Text", resourceId: 3 })
      assert.include(textOf(reference), "Resource demo://resource/dynamic/text/3 (text/plain):\nResource 3: This is a plaintext")
      const display = reference.display as McpToolkit.Display
      assert.strictEqual(display.server, "everything")
      assert.strictEqual(display.tool, "get-resource-reference")
      assert.deepStrictEqual(display.content.map((block) => block.type), ["text", "resource", "text"])

      const weather = yield* run("get-structured-content", { location: "Chicago" })
      const structured = (weather.display as McpToolkit.Display).structuredContent as { temperature: number }
      assert.isNumber(structured.temperature)
      assert.deepStrictEqual(JSON.parse(textOf(weather)), structured)

      // The server refuses bad arguments with an error result: an error output for the model.
      const sum = yield* run("get-sum", { a: "one", b: 2 })
      assert.isTrue(sum.isError)
      assert.include(textOf(sum), "Invalid arguments")
    }).pipe(Effect.provide(everythingOnly)))

  it.live("every content kind, structured-only results, and protocol errors as FunctionCallErrors", () =>
    Effect.gen(function*() {
      const mixed = yield* run("mixed", {})
      const parts = mixed.output as ReadonlyArray<ContextItem.InputPart>
      assert.deepStrictEqual(parts.map((part) => part._tag === "InputText" ? part.text : part.imageUrl), [
        "first",
        "data:image/png;base64,iVBORw0KGgo=",
        "[Audio (audio/wav): 8 bytes, not shown]",
        "Resource link: notes <file:///notes.txt> (text/plain)",
        "Resource memo://1 (text/plain):\nmemo text",
        "[Resource memo://2 (application/octet-stream): 4 bytes of binary data, not shown]"
      ])
      assert.strictEqual((mixed.display as McpToolkit.Display).content.length, 6)

      const structured = yield* run("structured", {})
      assert.strictEqual(structured.output, "{\"temperature\":21.5}")

      const invalid = yield* Effect.flip(run("refuse", { code: -32602 }))
      assert.strictEqual(invalid.reason, "invalid_arguments")
      assert.include(invalid.message, "refused: the parameters are wrong")
      const missing = yield* Effect.flip(run("refuse", { code: -32601 }))
      assert.strictEqual(missing.reason, "unknown_tool")
      const internal = yield* Effect.flip(run("refuse", { code: -32603 }))
      assert.strictEqual(internal.reason, "failed")

      const unknown = yield* Effect.flip(run("no_such_tool", {}))
      assert.strictEqual(unknown.reason, "unknown_tool")
      assert.include(unknown.message, "add_tool")
      const notJson = yield* Effect.flip(run("stats", "{oops"))
      assert.strictEqual(notJson.reason, "invalid_arguments")
      const notObject = yield* Effect.flip(run("stats", "[1, 2]"))
      assert.strictEqual(notObject.reason, "invalid_arguments")
      assert.include(notObject.message, "JSON object")
    }).pipe(Effect.provide(servers([Servers.dynamic()]))))

  it.live("filesystem: writes and reads in its root; a path outside it is an error output", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const root = Path.join(directory, "root")
      Fs.mkdirSync(root)
      const outside = Path.join(directory, "secret.txt")
      Fs.writeFileSync(outside, "not yours")
      yield* Effect.gen(function*() {
        const target = Path.join(root, "note.md")
        const written = yield* run("write_file", { path: target, content: "# Title\nbody\n" })
        assert.isFalse(written.isError, textOf(written))
        assert.strictEqual(Fs.readFileSync(target, "utf8"), "# Title\nbody\n")
        const read = yield* run("read_text_file", { path: target })
        assert.strictEqual(textOf(read), "# Title\nbody\n")

        const refused = yield* run("read_text_file", { path: outside })
        assert.isTrue(refused.isError)
        assert.include(textOf(refused), "Access denied")
        assert.notInclude(textOf(refused), "not yours")
        const escape = yield* run("write_file", { path: Path.join(root, "..", "escape.txt"), content: "x" })
        assert.isTrue(escape.isError)
        assert.isFalse(Fs.existsSync(Path.join(directory, "escape.txt")))
      }).pipe(Effect.provide(servers([Servers.filesystem(root)])))
    }).pipe(Effect.scoped))

  it.live("memory: entities created are read back", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const file = Path.join(directory, "memory.jsonl")
      yield* Effect.gen(function*() {
        const created = yield* run("create_entities", {
          entities: [
            { name: "Ada", entityType: "person", observations: ["wrote the first program"] },
            { name: "Analytical Engine", entityType: "machine", observations: ["designed by Babbage"] }
          ]
        })
        assert.isFalse(created.isError, textOf(created))
        yield* run("create_relations", { relations: [{ from: "Ada", to: "Analytical Engine", relationType: "programmed" }] })
        const opened = yield* run("open_nodes", { names: ["Ada"] })
        const graph = JSON.parse(textOf(opened)) as { entities: ReadonlyArray<{ name: string; observations: ReadonlyArray<string> }> }
        assert.deepStrictEqual(graph.entities.map((entity) => [entity.name, entity.observations]), [
          ["Ada", ["wrote the first program"]]
        ])
        const search = yield* run("search_nodes", { query: "Babbage" })
        assert.include(textOf(search), "Analytical Engine")
      }).pipe(Effect.provide(servers([Servers.memory(file)])))
      // The server really stored them.
      assert.include(Fs.readFileSync(file, "utf8"), "wrote the first program")
    }).pipe(Effect.scoped))

  it.live("progress reaches the caller in order; interrupting a call cancels it and progress stops", () =>
    Effect.gen(function*() {
      for (const transport of ["stdio", "http"] as const) {
        const server = transport === "stdio"
          ? Servers.everything()
          : McpConfig.http("everything", { url: (yield* Servers.everythingHttp).url })
        yield* Effect.gen(function*() {
          const seen = yield* Ref.make<ReadonlyArray<Tool.Progress>>([])
          const third = yield* Deferred.make<void>()
          const call = yield* run("trigger-long-running-operation", { duration: 6, steps: 60 }, (progress) =>
            Ref.updateAndGet(seen, (all) => [...all, progress]).pipe(
              Effect.flatMap((all) => all.length === 3 ? Deferred.succeed(third, undefined) : Effect.void)
            )).pipe(Effect.fork)
          yield* Deferred.await(third)
          yield* Fiber.interrupt(call)
          const atInterrupt = (yield* Ref.get(seen)).length
          // Real time: the server would have sent ~5 more updates by now.
          yield* Effect.sleep("500 millis")
          const after = yield* Ref.get(seen)
          assert.strictEqual(after.length, atInterrupt, transport)
          assert.deepStrictEqual(after.slice(0, 3), [1, 2, 3].map((progress) => ({ progress, total: 60, message: undefined })))
          // The connection is still good.
          assert.strictEqual(textOf(yield* run("everything__echo", { message: transport })), `Echo: ${transport}`)
        }).pipe(Effect.provide(servers([server])))
      }
    }).pipe(Effect.scoped))

  it.live("the server receives the cancellation", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const call = yield* run("slow", { steps: 1000, intervalMs: 20 }, () => Deferred.succeed(started, undefined)).pipe(
        Effect.fork
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(call)
      // Ask the server what it saw until it has noticed (it checks between steps).
      const stats = yield* run("stats", {}).pipe(
        Effect.map((result) => JSON.parse(textOf(result)) as { cancelled: number }),
        Effect.tap((stats) => stats.cancelled > 0 ? Effect.void : Effect.sleep("20 millis")),
        Effect.repeat({ until: (stats) => stats.cancelled > 0, times: 100 })
      )
      assert.strictEqual(stats.cancelled, 1)
    }).pipe(Effect.provide(servers([Servers.dynamic()]))))

  it.live("a server killed mid-call: that call crashes, the loss is observable, a later call reconnects", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const events = yield* client.events
      const [before] = yield* client.status
      const pid = before?.pid ?? -1
      assert.isTrue(Servers.isAlive(pid))
      const progressed = yield* Deferred.make<void>()
      const call = yield* run("trigger-long-running-operation", { duration: 30, steps: 300 }, () =>
        Deferred.succeed(progressed, undefined)).pipe(Effect.fork)
      yield* Deferred.await(progressed)
      process.kill(pid, "SIGKILL")
      const error = yield* Fiber.join(call).pipe(Effect.flip)
      assert.strictEqual(error._tag, "FunctionCallError")
      assert.strictEqual(error.reason, "crashed")
      assert.include(error.message, "MCP server \"everything\" crashed")
      const lost = yield* next(events, "Disconnected")
      assert.strictEqual(lost.error.reason, "crashed")
      // The model still sees the tools, and the next call starts the server again.
      assert.isTrue((yield* FunctionCallRunner.FunctionCallRunner.pipe(Effect.flatMap((runner) => runner.tools)))
        .some((tool) => tool.name === "trigger-long-running-operation"))
      const echo = yield* run("everything__echo", { message: "back" })
      assert.strictEqual(textOf(echo), "Echo: back")
      const [after] = yield* client.status
      assert.isTrue(after?.connected)
      assert.notStrictEqual(after?.pid, pid)
      const back = yield* next(events, "Connected")
      assert.isTrue(back.reconnected)
      assert.strictEqual(back.pid, after?.pid)
    }).pipe(Effect.scoped, Effect.provide(everythingOnly)))

  it.live("notifications/tools/list_changed refreshes the registry", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.McpClient
      const runner = yield* FunctionCallRunner.FunctionCallRunner
      const events = yield* client.events
      assert.isFalse((yield* runner.tools).some((tool) => tool.name === "fresh"))
      const added = yield* run("add_tool", { name: "fresh" })
      assert.strictEqual(textOf(added), "added fresh")
      const changed = yield* next(events, "ToolsChanged")
      assert.include(changed.tools, "fresh")
      const fresh = (yield* runner.tools).find((tool) => tool.name === "fresh")
      assert.strictEqual(fresh?.description, "Added at run time")
      assert.strictEqual(textOf(yield* run("fresh", {})), "hello from fresh")
    }).pipe(Effect.scoped, Effect.provide(servers([Servers.dynamic()]))))

  it.live("a call that outlives callTimeout fails and is cancelled", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(run("slow", { steps: 1000, intervalMs: 20 }))
      assert.strictEqual(error.reason, "failed")
      assert.include(error.message, "did not finish within")
      const stats = yield* run("stats", {}).pipe(
        Effect.map((result) => JSON.parse(textOf(result)) as { cancelled: number }),
        Effect.tap((stats) => stats.cancelled > 0 ? Effect.void : Effect.sleep("20 millis")),
        Effect.repeat({ until: (stats) => stats.cancelled > 0, times: 100 })
      )
      assert.strictEqual(stats.cancelled, 1)
    }).pipe(Effect.provide(servers([Servers.dynamic()], { callTimeout: "300 millis" }))))

  it.live("closing the layer ends the server processes", () =>
    Effect.gen(function*() {
      const pids = yield* Effect.gen(function*() {
        const client = yield* McpClient.McpClient
        return (yield* client.status).map((status) => status.pid ?? -1)
      }).pipe(Effect.provide(Layer.fresh(servers([Servers.everything(), Servers.dynamic()]))))
      assert.strictEqual(pids.length, 2)
      for (const pid of pids) assert.isFalse(Servers.isAlive(pid))
    }))
})
