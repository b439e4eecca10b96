/**
 * The alias follows the agent: a different model or instruction gives the alias a different
 * description (CloudFormation updates it; Bedrock then creates a new version and routes the alias
 * to it), the same definition gives an identical alias (control). Synthesizes the Agent construct
 * alone, without the stack's bundled functions.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AGENT_INSTRUCTION } from '../../tasks/agent-definition.ts';
import { Agent, type AgentProps } from './agent.ts';

type Json = Record<string, unknown>;

function synth(props: Partial<AgentProps> = {}): { alias: Json; agent: Json } {
  const stack = new Stack(new App(), 'AgentTest', { env: { account: '111122223333', region: 'us-east-1' } });
  new Agent(stack, 'Agent', { runtime: 'bedrock-agent', modelId: 'model-a', namePrefix: 'test-', ...props });
  const template = Template.fromStack(stack);
  const one = (type: string) => {
    const found = Object.values(template.findResources(type));
    expect(found).toHaveLength(1);
    return (found[0] as { Properties: Json }).Properties;
  };
  return { alias: one('AWS::Bedrock::AgentAlias'), agent: one('AWS::Bedrock::Agent') };
}

describe('the agent alias follows the agent definition', () => {
  it('keeps the alias identical for the same definition (control), with no fixed routing to an old version', () => {
    const a = synth();
    const b = synth();
    expect(a.alias).toEqual(b.alias);
    expect(a.alias.AgentAliasName).toBe('live');
    expect(a.alias.Description).toMatch(/^Routes to the version of agent definition [0-9a-f]{16}$/);
    // No routing configuration: on create and on update Bedrock makes a new version from the draft.
    expect(a.alias.RoutingConfiguration).toBeUndefined();
    expect(a.agent.AutoPrepare).toBe(true);
  });

  it('changes the alias when the model changes', () => {
    const a = synth({ modelId: 'model-a' });
    const b = synth({ modelId: 'model-b' });
    expect(a.agent.FoundationModel).not.toEqual(b.agent.FoundationModel);
    expect(a.alias.Description).not.toEqual(b.alias.Description);
    // The alias keeps its name (and so its id): the tasks' configuration does not change.
    expect(a.alias.AgentAliasName).toEqual(b.alias.AgentAliasName);
  });

  it('changes the alias when the instruction changes', () => {
    const a = synth();
    const b = synth({ instruction: `${AGENT_INSTRUCTION} Answer briefly.` });
    expect(a.agent.Instruction).toBe(AGENT_INSTRUCTION);
    expect(a.alias.Description).not.toEqual(b.alias.Description);
  });
});
