/**
 * Which model a call may reach, by the models table (tasks/models.ts) on the service's clock: what
 * Bedrock answers for a model past its end of life (ResourceNotFoundException, the model card's
 * words), for a profile-only model called by its bare id (ValidationException naming the inference
 * profile as the way), and for an id it does not know (ValidationException). InvokeAgent applies
 * the same rules to the agent's foundation model; the docs do not say what InvokeAgent answers then.
 */
import { availability, MODEL_REFUSALS, type ModelRef } from '../../../../tasks/models.ts';
import { AwsError } from '../../edge/aws-error.ts';

/** The model a call names, or the error Bedrock answers for it. */
export function requireAvailableModel(identifier: string, region: string, date: Date): ModelRef {
  const a = availability(identifier, region, date);
  if (a.available) return a.ref;
  switch (a.reason) {
    case 'UNKNOWN_MODEL':
      throw new AwsError('ValidationException', MODEL_REFUSALS.invalidIdentifier);
    case 'END_OF_LIFE':
      throw new AwsError('ResourceNotFoundException', MODEL_REFUSALS.endOfLife, 404);
    case 'PROFILE_REQUIRED':
      throw new AwsError('ValidationException', MODEL_REFUSALS.onDemandUnsupported(a.ref.id));
  }
}
