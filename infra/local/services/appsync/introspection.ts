/**
 * Introspection, which an AppSync API can disable (`introspectionConfig: DISABLED`): a document that
 * selects `__schema` or `__type`, at any depth and through any fragment, is then refused in
 * validation, before anything runs. `__typename` is not introspection of the schema (it names the
 * object's own type, and clients such as Amplify send it in every query), so it is left alone.
 * https://docs.aws.amazon.com/appsync/latest/devguide/configuration-limits.html
 */
import { GraphQLError, Kind, TypeInfo, visit, visitWithTypeInfo, type ASTNode, type DocumentNode, type FieldNode } from 'graphql';
import type { GraphQLSchema } from 'graphql';

/** The schema's introspection fields (the GraphQL spec's meta-fields other than `__typename`). */
export const INTROSPECTION_FIELDS: ReadonlySet<string> = new Set(['__schema', '__type']);

/**
 * The errors of a document that uses introspection while it is disabled (none when it does not).
 * AppSync's devguide shows "a validation error" (a screenshot of a field-undefined error); the
 * wording here is AppSync's form of that error: `Validation error of type FieldUndefined: Field
 * '<field>' in type '<type>' is undefined @ '<path>'`.
 */
export function introspectionErrors(schema: GraphQLSchema, document: DocumentNode): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node, _key, _parent, _path, ancestors) {
        if (!INTROSPECTION_FIELDS.has(node.name.value)) return;
        const parent = typeInfo.getParentType()?.name ?? 'Query';
        const path = [...fieldsAbove(ancestors), node].map((f) => f.name.value).join('/');
        errors.push(new GraphQLError(`Validation error of type FieldUndefined: Field '${node.name.value}' in type '${parent}' is undefined @ '${path}'`, { nodes: node }));
        return false;
      },
    }),
  );
  return errors;
}

function fieldsAbove(ancestors: ReadonlyArray<ASTNode | readonly ASTNode[]>): FieldNode[] {
  return ancestors.filter((a): a is FieldNode => !Array.isArray(a) && (a as ASTNode).kind === Kind.FIELD);
}
