/**
 * The cluster configuration file named by `--cluster_config`: every node of a cluster runs the
 * same file, `{ cluster_name, chat_server_node_names, chat_server_master_node_name }`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const NODE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const nodeName = z
  .string()
  .regex(NODE_NAME_PATTERN, 'letters, digits, "_" or "-", 1-64 characters');

const clusterFileSchema = z.strictObject({
  cluster_name: nodeName,
  chat_server_node_names: z.array(nodeName).min(1, 'must list at least one node'),
  chat_server_master_node_name: nodeName,
});

export interface ClusterConfig {
  file: string;
  clusterName: string;
  /** in failover order: the next live node in this order takes over master duties */
  nodeNames: string[];
  masterNodeName: string;
  /** this node */
  nodeName: string;
}

export type ReadFile = (path: string) => string;

/** Reads and checks the file; returns the problems found (all of them) or the config. */
export function readClusterConfig(
  file: string,
  nodeName: string,
  readFile: ReadFile = (p) => readFileSync(p, 'utf8'),
): { config: ClusterConfig; problems: [] } | { config: null; problems: string[] } {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? String(error)})`;
    return { config: null, problems: [`--cluster_config ${file}: ${why}`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      config: null,
      problems: [`--cluster_config ${file}: not valid JSON (${(error as Error).message})`],
    };
  }
  const parsed = clusterFileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      config: null,
      problems: parsed.error.issues.map(
        (i) =>
          `--cluster_config ${file}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
      ),
    };
  }
  const c = parsed.data;
  const problems: string[] = [];
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const n of c.chat_server_node_names) (seen.has(n) ? repeated : seen).add(n);
  if (repeated.size > 0) {
    problems.push(
      `--cluster_config ${file}: chat_server_node_names repeats ${[...repeated].map((n) => `"${n}"`).join(', ')}`,
    );
  }
  if (!seen.has(c.chat_server_master_node_name)) {
    problems.push(
      `--cluster_config ${file}: chat_server_master_node_name "${c.chat_server_master_node_name}" is not in chat_server_node_names`,
    );
  }
  if (!seen.has(nodeName)) {
    problems.push(
      `--node_name "${nodeName}" is not in chat_server_node_names of ${file} (${[...seen].join(', ')})`,
    );
  }
  if (problems.length > 0) return { config: null, problems };
  return {
    config: {
      file,
      clusterName: c.cluster_name,
      nodeNames: c.chat_server_node_names,
      masterNodeName: c.chat_server_master_node_name,
      nodeName,
    },
    problems: [],
  };
}
