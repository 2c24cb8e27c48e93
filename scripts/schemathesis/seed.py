# Signs up the seed account (SEED_EMAIL, SEED_PASSWORD from the environment) on the API at
# argv[1] and prints its token. Run by scripts/schemathesis.sh.
import json, os, sys, urllib.request
api = sys.argv[1]
body = json.dumps({"email": os.environ["SEED_EMAIL"], "password": os.environ["SEED_PASSWORD"],
                   "firstname": "Seed", "lastname": "Account"}).encode()
request = urllib.request.Request(api + "/auth/signup", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=120) as response:
    assert response.status == 201, response.status
    print(json.load(response)["x-auth-token"])
