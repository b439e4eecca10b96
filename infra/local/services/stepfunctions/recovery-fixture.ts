/** The state machine both recovery suites run: the assistant's shape, reduced to its recovery-relevant states. */
export const ANSWER = 'arn:aws:lambda:us-east-1:000000000000:function:answer';
export const PUBLISH = 'arn:aws:lambda:us-east-1:000000000000:function:publish';

/** Answer -> Publish (End, ResultPath null), or on failure PublishFailure -> Failed (ErrorPath, CausePath). */
export const definition = {
  StartAt: 'Answer',
  States: {
    Answer: { Type: 'Task', Resource: ANSWER, ResultPath: '$.answer', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'PublishFailure' }], Next: 'Publish' },
    Publish: { Type: 'Task', Resource: PUBLISH, ResultPath: null, End: true },
    PublishFailure: { Type: 'Task', Resource: PUBLISH, ResultPath: null, Next: 'Failed' },
    Failed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
  },
};
