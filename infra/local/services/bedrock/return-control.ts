/**
 * InvokeAgent's return of control, both ways: the returnControl event that hands the agent's
 * function calls to the caller, and the caller's sessionState.returnControlInvocationResults that
 * answer them. The functions are those of the agent definition's one action group; each result
 * must answer a call the pending invocation made, once.
 */
import { ACTION_GROUP, toolDefinition } from '../../../../tasks/agent-definition.ts';
import { AwsError } from '../../edge/aws-error.ts';
import type { PlannedCall, ToolExchange } from './local-agent.ts';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The payload of the returnControl event: the function calls, typed as the action group declares their parameters. */
export function returnControlPayload(agentId: string, invocationId: string, calls: readonly PlannedCall[]) {
  return {
    invocationId,
    invocationInputs: calls.map((c) => ({
      functionInvocationInput: {
        actionGroup: ACTION_GROUP,
        actionInvocationType: 'RESULT',
        agentId,
        function: c.name,
        parameters: Object.entries(c.input).map(([name, value]) => ({
          name,
          type: toolDefinition(c.name)?.parameters[name]?.type ?? 'string',
          value,
        })),
      },
    })),
  };
}

/** Pairs each functionResult with the pending call it answers; anything else is refused. */
export function matchResults(calls: readonly PlannedCall[], results: readonly unknown[]): ToolExchange[] {
  const open = [...calls];
  const exchanges: ToolExchange[] = [];
  for (const [i, member] of results.entries()) {
    const where = `sessionState.returnControlInvocationResults.${i}`;
    if (!isObject(member)) throw new AwsError('ValidationException', `${where} must be a structure.`);
    if (member.apiResult !== undefined) throw new AwsError('ValidationException', `${where}: the ${ACTION_GROUP} action group defines functions, not APIs; send a functionResult.`);
    const fr = member.functionResult;
    if (!isObject(fr)) throw new AwsError('ValidationException', `${where} must hold a functionResult.`);
    if (fr.actionGroup !== ACTION_GROUP) throw new AwsError('ValidationException', `${where}.functionResult.actionGroup must be ${ACTION_GROUP}.`);
    const fn = fr.function;
    if (typeof fn !== 'string' || !toolDefinition(fn)) throw new AwsError('ValidationException', `${where}.functionResult.function names no function of ${ACTION_GROUP}.`);
    const at = open.findIndex((c) => c.name === fn);
    if (at < 0) throw new AwsError('ValidationException', `${where}: function ${fn} was not invoked by the pending invocation (or was answered twice).`);
    const body = isObject(fr.responseBody) && isObject(fr.responseBody.TEXT) ? fr.responseBody.TEXT.body : undefined;
    if (typeof body !== 'string') throw new AwsError('ValidationException', `${where}.functionResult.responseBody.TEXT.body must be a string.`);
    if (fr.responseState === 'FAILURE') {
      throw new AwsError('DependencyFailedException', `The action group function ${fn} reported FAILURE.`, 424);
    }
    const [planned] = open.splice(at, 1);
    exchanges.push({ name: planned!.name, input: planned!.input, result: body });
  }
  if (open.length > 0) throw new AwsError('ValidationException', `Missing results for pending function(s): ${open.map((c) => c.name).join(', ')}.`);
  return exchanges;
}
