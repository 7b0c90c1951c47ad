// Mapping the SDK's tool, content and resource shapes to @chorus/mcp's own.
import type * as Sdk from "@modelcontextprotocol/sdk/types.js"
import type { Tool } from "@chorus/core"
import type * as McpClient from "../McpClient.js"

export const toTool = (tool: Sdk.Tool): McpClient.McpTool => ({
  name: tool.name,
  title: tool.title ?? tool.annotations?.title,
  description: tool.description,
  inputSchema: tool.inputSchema as Tool.JsonSchema,
  outputSchema: tool.outputSchema as Tool.JsonSchema | undefined,
  annotations: {
    title: tool.annotations?.title ?? tool.title,
    readOnly: tool.annotations?.readOnlyHint,
    destructive: tool.annotations?.destructiveHint,
    idempotent: tool.annotations?.idempotentHint,
    openWorld: tool.annotations?.openWorldHint
  }
})

export const toResourceContents = (contents: Sdk.ReadResourceResult["contents"][number]): McpClient.ResourceContents =>
  "text" in contents && typeof contents.text === "string"
    ? { uri: contents.uri, mimeType: contents.mimeType, text: contents.text }
    : { uri: contents.uri, mimeType: contents.mimeType, blob: String((contents as { blob?: unknown }).blob ?? "") }

export const toContent = (block: Sdk.ContentBlock): McpClient.Content => {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text }
    case "image":
      return { type: "image", data: block.data, mimeType: block.mimeType }
    case "audio":
      return { type: "audio", data: block.data, mimeType: block.mimeType }
    case "resource_link":
      return {
        type: "resource_link",
        uri: block.uri,
        name: block.name,
        title: block.title,
        description: block.description,
        mimeType: block.mimeType
      }
    case "resource":
      return { type: "resource", resource: toResourceContents(block.resource) }
  }
}

export const toCallToolResult = (result: Sdk.CompatibilityCallToolResult): McpClient.CallToolResult => {
  if ("toolResult" in result && !("content" in result)) {
    // The pre-2024-11-05 result shape.
    return { content: [{ type: "text", text: JSON.stringify(result.toolResult) }], structuredContent: undefined, isError: false }
  }
  const content = Array.isArray(result.content) ? (result.content as ReadonlyArray<Sdk.ContentBlock>) : []
  return { content: content.map(toContent), structuredContent: result.structuredContent, isError: result.isError === true }
}

export const toResource = (resource: Sdk.Resource): McpClient.Resource => ({
  uri: resource.uri,
  name: resource.name,
  title: resource.title,
  description: resource.description,
  mimeType: resource.mimeType
})

export const toResourceTemplate = (template: Sdk.ResourceTemplate): McpClient.ResourceTemplate => ({
  uriTemplate: template.uriTemplate,
  name: template.name,
  title: template.title,
  description: template.description,
  mimeType: template.mimeType
})

export const toPrompt = (prompt: Sdk.Prompt): McpClient.Prompt => ({
  name: prompt.name,
  title: prompt.title,
  description: prompt.description,
  arguments: (prompt.arguments ?? []).map((argument) => ({
    name: argument.name,
    description: argument.description,
    required: argument.required === true
  }))
})

export const toPromptResult = (result: Sdk.GetPromptResult): McpClient.PromptResult => ({
  description: result.description,
  messages: result.messages.map((message) => ({ role: message.role, content: toContent(message.content) }))
})
