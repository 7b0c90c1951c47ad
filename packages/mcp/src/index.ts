/**
 * @chorus/mcp — MCP servers' tools, resources and prompts, over stdio and
 * Streamable HTTP, as a {@link FunctionCallRunner} an agent uses.
 *
 * @since 0.1.0
 */
export * as McpClient from "./McpClient.js"
export * as McpConfig from "./McpConfig.js"
export * as McpToolkit from "./McpToolkit.js"
export * as McpEnvironment from "./McpEnvironment.js"
export * as TokenStore from "./TokenStore.js"
