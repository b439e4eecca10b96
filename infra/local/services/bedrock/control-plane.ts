/**
 * The Bedrock control-plane operations `npm run preflight` reads, answered from the models table
 * (tasks/models.ts) on the service's clock, in the service's Region:
 *
 *   GET  /foundation-models/{modelIdentifier}           GetFoundationModel
 *   GET  /inference-profiles/{inferenceProfileIdentifier} GetInferenceProfile
 *   GET  /foundation-model-availability/{modelId}       GetFoundationModelAvailability
 *   POST /agents/                                        ListAgents (Agents for Amazon Bedrock)
 *
 * Only what the table knows is answered (no modalities, no provider name). A model past its end of
 * life in the Region is described as LEGACY with its endOfLifeTime (the API's status has only
 * ACTIVE | LEGACY, and endOfLifeTime is "Time when model is no longer available for use"); whether
 * AWS describes such a model or answers ResourceNotFoundException is not documented, and the preflight
 * reads either as end of life. A profile-only model lists no ON_DEMAND among its inference types. A
 * system-defined profile exists where its geography is the Region's (a `global.` one everywhere) and
 * lists the foundation model in each destination Region the table gives.
 *
 * Model access is granted by default (the "Access Amazon Bedrock foundation models" page); a test
 * may withdraw it for a model (`ModelAccess`), and then GetFoundationModelAvailability says so and
 * every invocation of the model is refused with AccessDeniedException, as the knowledge-center page
 * on InvokeModel errors quotes it.
 */
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { findModel, GEOGRAPHY_DESTINATIONS, geographyOfRegion, lifecycleOf, MODELS, type ModelEntry } from '../../../../tasks/models.ts';
import { AwsError, type WireResponse } from '../../edge/aws-error.ts';

/** The account's access to a model, as GetFoundationModelAvailability reports it. */
export interface ModelAccess {
  authorizationStatus: 'AUTHORIZED' | 'NOT_AUTHORIZED';
  entitlementAvailability: 'AVAILABLE' | 'NOT_AVAILABLE';
  regionAvailability: 'AVAILABLE' | 'NOT_AVAILABLE';
  agreementAvailability: { status: 'AVAILABLE' | 'PENDING' | 'NOT_AVAILABLE' | 'ERROR'; errorMessage?: string };
}

export const DEFAULT_MODEL_ACCESS: ModelAccess = {
  authorizationStatus: 'AUTHORIZED',
  entitlementAvailability: 'AVAILABLE',
  regionAvailability: 'AVAILABLE',
  agreementAvailability: { status: 'AVAILABLE' },
};

/** True when the access lets the account invoke the model. */
export function accessGranted(access: ModelAccess): boolean {
  return (
    access.authorizationStatus === 'AUTHORIZED' &&
    access.entitlementAvailability === 'AVAILABLE' &&
    access.regionAvailability === 'AVAILABLE' &&
    access.agreementAvailability.status === 'AVAILABLE'
  );
}

/** What an invocation of a model the account has no access to is answered (knowledge center, "bedrock-invokemodel-api-error"). */
export const NO_MODEL_ACCESS = "You don't have access to the model with the specified model ID.";

/** The documented ResourceNotFoundException wording of the control plane's Get operations. */
const NOT_FOUND = 'The specified resource Amazon Resource Name (ARN) was not found. Check the Amazon Resource Name (ARN) and try your request again.';

/** GetFoundationModel's modelIdentifier pattern (a foundation-model ARN or a model id). */
const MODEL_IDENTIFIER =
  /^(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model\/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})$|^([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})$/;
/** GetInferenceProfile's identifier: an id ([a-zA-Z0-9-:.]+, at most 64) or a profile ARN. */
const PROFILE_IDENTIFIER = /^(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{0,20}:[0-9]{12}:(inference-profile|application-inference-profile)\/)?[a-zA-Z0-9-:.]{1,64}$/;

const dayStart = (day: string) => `${day}T00:00:00Z`;

function restJson(payload: unknown): WireResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) };
}

export class BedrockControlPlane {
  private readonly access = new Map<string, ModelAccess>();
  private listedAgent: string | undefined;

  constructor(
    private readonly location: AwsLocation,
    private readonly clock: () => Date,
  ) {}

  /** The agent ListAgents lists (an Agents Classic resource of the account), or none. */
  setListedAgent(agentId: string | undefined): void {
    this.listedAgent = agentId;
  }

  /**
   * A control-plane request (method and decoded path segments), authorised by `authorize`; undefined
   * when the path is not one of its operations.
   */
  async route(method: string, segments: readonly string[], authorize: (action: string, resource: string) => Promise<void>): Promise<WireResponse | undefined> {
    if (segments.length !== 2) return undefined;
    const [collection, identifier] = segments as [string, string];
    if (method === 'GET' && collection === 'foundation-models') {
      this.checkModelIdentifier(identifier);
      await authorize('bedrock:GetFoundationModel', identifier.startsWith('arn:') ? identifier : this.foundationModelArn(identifier));
      return restJson(this.getFoundationModel(this.modelOf(identifier)));
    }
    if (method === 'GET' && collection === 'inference-profiles') {
      await authorize('bedrock:GetInferenceProfile', identifier.startsWith('arn:') ? identifier : this.inferenceProfileArn(identifier));
      return restJson(this.getInferenceProfile(identifier));
    }
    // GetFoundationModelAvailability and ListAgents name no resource type: IAM authorises them on `*`.
    if (method === 'GET' && collection === 'foundation-model-availability') {
      await authorize('bedrock:GetFoundationModelAvailability', '*');
      return restJson(this.getFoundationModelAvailability(identifier));
    }
    if (method === 'POST' && collection === 'agents' && identifier === '') {
      await authorize('bedrock:ListAgents', '*');
      return restJson(this.listAgents());
    }
    return undefined;
  }

  /** ListAgents: the listed agent, in one page. */
  private listAgents(): unknown {
    if (!this.listedAgent) return { agentSummaries: [] };
    return {
      agentSummaries: [{ agentId: this.listedAgent, agentName: 'local-assistant', agentStatus: 'PREPARED', latestAgentVersion: '1', updatedAt: new Date(0).toISOString() }],
    };
  }

  /** Test control: the account's access to `modelId` (a base model id); undefined restores the default. */
  setModelAccess(modelId: string, access: Partial<ModelAccess> | undefined): void {
    if (access === undefined) this.access.delete(modelId);
    else this.access.set(modelId, { ...DEFAULT_MODEL_ACCESS, ...access });
  }

  modelAccess(modelId: string): ModelAccess {
    return this.access.get(modelId) ?? DEFAULT_MODEL_ACCESS;
  }

  foundationModelArn(modelId: string, region = this.location.region): string {
    return `arn:${this.location.partition}:bedrock:${region}::foundation-model/${modelId}`;
  }

  inferenceProfileArn(profileId: string): string {
    const { partition, region, accountId } = this.location;
    return `arn:${partition}:bedrock:${region}:${accountId}:inference-profile/${profileId}`;
  }

  /** GetFoundationModel's identifier checked against its documented pattern (before authorisation). */
  checkModelIdentifier(identifier: string): void {
    if (!MODEL_IDENTIFIER.test(identifier)) throw new AwsError('ValidationException', `1 validation error detected: Value at 'modelIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern.`);
  }

  /** The base model a GetFoundationModel identifier names (a model id or its ARN), or ResourceNotFoundException. */
  modelOf(identifier: string): ModelEntry {
    this.checkModelIdentifier(identifier);
    const ref = findModel(identifier);
    if (!ref || ref.via !== 'model') throw new AwsError('ResourceNotFoundException', NOT_FOUND, 404);
    return ref.model;
  }

  getFoundationModel(model: ModelEntry): unknown {
    const status = lifecycleOf(model, this.location.region, this.clock());
    const lifecycle = {
      status: status === 'ACTIVE' ? 'ACTIVE' : 'LEGACY',
      ...(model.legacyDate ? { legacyTime: dayStart(model.legacyDate) } : {}),
      ...(status === 'END_OF_LIFE' && model.endOfLifeDate ? { endOfLifeTime: dayStart(model.endOfLifeDate) } : {}),
    };
    return {
      modelDetails: {
        modelArn: this.foundationModelArn(model.modelId),
        modelId: model.modelId,
        modelName: model.name,
        inferenceTypesSupported: model.onDemand ? ['ON_DEMAND'] : [],
        responseStreamingSupported: true,
        modelLifecycle: lifecycle,
      },
    };
  }

  /** The system-defined profile an identifier names, where it exists from this Region; else ResourceNotFoundException. */
  getInferenceProfile(identifier: string): unknown {
    if (!PROFILE_IDENTIFIER.test(identifier)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value at 'inferenceProfileIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern.`);
    }
    const id = identifier.includes('/') ? identifier.slice(identifier.lastIndexOf('/') + 1) : identifier;
    const ref = findModel(id);
    const home = geographyOfRegion(this.location.region);
    if (!ref || ref.via !== 'profile' || (ref.geography !== 'global' && ref.geography !== home)) {
      throw new AwsError('ResourceNotFoundException', NOT_FOUND, 404);
    }
    const regions =
      ref.geography === 'global' ? [this.location.region] : (ref.model.destinations?.[ref.geography!] ?? GEOGRAPHY_DESTINATIONS[ref.geography!]);
    return {
      inferenceProfileName: `${ref.geography!.toUpperCase()} ${ref.model.name}`,
      inferenceProfileArn: this.inferenceProfileArn(id),
      inferenceProfileId: id,
      models: regions.map((r) => ({ modelArn: this.foundationModelArn(ref.model.modelId, r) })),
      status: 'ACTIVE',
      type: 'SYSTEM_DEFINED',
    };
  }

  getFoundationModelAvailability(modelId: string): unknown {
    if (!MODELS.some((m) => m.modelId === modelId)) throw new AwsError('ResourceNotFoundException', NOT_FOUND, 404);
    return { modelId, ...this.modelAccess(modelId) };
  }

  /** Refuses an invocation of `modelId` (a base model id) when the account has no access to it. */
  requireAccess(modelId: string): void {
    if (!accessGranted(this.modelAccess(modelId))) throw new AwsError('AccessDeniedException', NO_MODEL_ACCESS, 403);
  }
}
