/**
 * What a mutation hands to its subscribers, as AppSync builds it: "Subscriptions are triggered from
 * mutations and the mutation selection set is sent to subscribers" (AppSync developer guide,
 * "Using subscriptions for real-time data applications"). So the published object is the mutation
 * field's response data, not its resolver's result: a field the mutation did not select is absent,
 * and a subscription that selects it reads null (or fails a non-null field).
 *
 * The response data is keyed by response key, i.e. by alias where the mutation used one; AppSync
 * does the same (aws/aws-appsync-community#160: a field selected as `bAlias: b` reaches a
 * subscription selecting `b` as null). The docs say nothing about aliases.
 */
import { executeSync, Kind, type DocumentNode, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';

/**
 * The response data of the field `info` resolves, for the resolver's `result`: graphql's own
 * completion (aliases, fragments, @include/@skip, enum and scalar serialization) of the field's
 * selection set, run once on its own. Null when the field's value is null.
 */
export function mutationSelection(schema: GraphQLSchema, info: GraphQLResolveInfo, result: unknown): Record<string, unknown> | null {
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: info.operation.operation,
        variableDefinitions: info.operation.variableDefinitions ?? [],
        selectionSet: { kind: Kind.SELECTION_SET, selections: info.fieldNodes },
      },
      ...Object.values(info.fragments),
    ],
  };
  const executed = executeSync({ schema, document, rootValue: { [info.fieldName]: result }, variableValues: info.variableValues });
  const data = executed.data?.[String(info.path.key)];
  return data && typeof data === 'object' ? (data as Record<string, unknown>) : null;
}
