/**
 * Node 20 support for the local entry points (imported first by `npm start`, the CLIs and the test
 * setup; nowhere else). The project supports Node 20 and 22+; the AWS SDK warns on 20 at every start.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
